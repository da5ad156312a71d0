// MemoryPresenceRegistry against the presence contract.
import { MemoryPresenceRegistry } from '@im-mesh/platform';
import { describePresenceRegistryContract } from '../src/ports/presence/presence-registry.contract.js';

describePresenceRegistryContract('MemoryPresenceRegistry', async () => new MemoryPresenceRegistry());
