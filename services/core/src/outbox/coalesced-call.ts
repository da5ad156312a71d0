// Runs an async call on request, at most one at a time: requests made while a
// call is in flight share one more call after it, so a burst of requests costs
// two calls, not one each. For signals where only "something happened since
// the last call" matters (the relay's NOTIFY to other instances).
export class CoalescedCall {
  private inFlight = false;
  private requestedAgain = false;

  /** `call` must not reject; its failures are its own to handle. */
  constructor(private readonly call: () => Promise<void>) {}

  request(): void {
    if (this.inFlight) {
      this.requestedAgain = true;
      return;
    }
    this.inFlight = true;
    void this.call().finally(() => {
      this.inFlight = false;
      if (this.requestedAgain) {
        this.requestedAgain = false;
        this.request();
      }
    });
  }
}
