// MemoryEphemeralStore against the ephemeral store contract.
import { MemoryEphemeralStore } from '@im-mesh/platform';
import { describeEphemeralStoreContract } from '../src/ports/ephemeral-store/ephemeral-store.contract.js';

describeEphemeralStoreContract('MemoryEphemeralStore', async () => new MemoryEphemeralStore());
