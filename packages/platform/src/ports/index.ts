// Ports and their adapters. Which adapter runs is chosen in one place, the
// composition root of each process, from validated configuration.
export { MemoryPresenceRegistry } from './presence/memory-presence-registry.js';
export { MemoryPushBus } from './push-bus/memory-push-bus.js';
export { MemoryEphemeralStore } from './ephemeral-store/memory-ephemeral-store.js';
export { MemoryRateLimiter } from './rate-limiter/memory-rate-limiter.js';
