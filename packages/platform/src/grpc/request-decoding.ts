// Requests that do not decode as their protobuf message. grpc-js answers a throwing
// deserializer with INTERNAL "Error deserializing request", which blames the server
// for the caller's bytes; ts-proto (forceLong=number) also throws on any 64-bit
// integer above 2^53. So the decoder never throws: it returns a MalformedRequest
// marker, and a middleware inside the error boundary turns the marker into
// INVALID_ARGUMENT with a sentence, for a unary request or for a stream element.
import type { CompatServiceDefinition, ServerMiddleware } from 'nice-grpc';
import { AppError } from '../errors/app-error.js';

/** The parts of a ts-proto generic service definition this file relies on. */
interface TsProtoMethod {
  name: string;
  requestType: { decode(input: Uint8Array, length?: number): unknown };
}
interface TsProtoServiceDefinition {
  fullName: string;
  methods: Record<string, TsProtoMethod>;
}

/** Stands in for a request that failed to decode. */
export class MalformedRequest {
  constructor(
    readonly typeName: string,
    readonly reason: string,
  ) {}

  toAppError(): AppError {
    return AppError.invalidArgument(
      `The request is not a valid ${this.typeName} message: ${this.reason}.`,
      'MESSAGE_MALFORMED',
    );
  }
}

/**
 * A copy of `definition` whose request decoders return a MalformedRequest instead
 * of throwing. Only the top-level decode is wrapped: nested messages are decoded
 * by the generated code directly, and their errors surface here.
 */
export function withTolerantRequestDecoding<S extends CompatServiceDefinition>(definition: S): S {
  const service = definition as unknown as TsProtoServiceDefinition;
  const methods: Record<string, TsProtoMethod> = {};
  for (const [key, method] of Object.entries(service.methods)) {
    // buf's STANDARD lint (RPC_REQUEST_STANDARD_NAME) names every request <Method>Request.
    const typeName = `${method.name}Request`;
    const decode = method.requestType.decode;
    methods[key] = {
      ...method,
      requestType: {
        ...method.requestType,
        decode(input: Uint8Array, length?: number): unknown {
          try {
            return decode(input, length);
          } catch (error) {
            return new MalformedRequest(typeName, readableReason(error));
          }
        },
      },
    };
  }
  return { ...service, methods } as unknown as S;
}

/** Put right after the error boundary: answers a MalformedRequest with INVALID_ARGUMENT. */
export const rejectMalformedRequests: ServerMiddleware = async function* rejectMalformed(call, context) {
  if (call.requestStream) return yield* call.next(refuseMalformedElements(call.request), context);
  if (call.request instanceof MalformedRequest) throw call.request.toAppError();
  return yield* call.next(call.request, context);
};

/** The handler's `for await` throws the AppError when it reaches a malformed element. */
async function* refuseMalformedElements<Request>(requests: AsyncIterable<Request>): AsyncGenerator<Request, void, undefined> {
  for await (const request of requests) {
    if (request instanceof MalformedRequest) throw request.toAppError();
    yield request;
  }
}

function readableReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/MAX_SAFE_INTEGER|MIN_SAFE_INTEGER/.test(message)) {
    return 'a 64-bit integer field is outside ±9007199254740991 (2^53 - 1), the range this service accepts';
  }
  // The decoder's own words ("premature EOF", "invalid varint", "cant skip wire
  // type 7"), kept short and printable since they go to the caller.
  const short = message.replace(/[^\x20-\x7e]/g, '').trim().slice(0, 120).replace(/\.$/, '');
  return short || 'it cannot be decoded';
}
