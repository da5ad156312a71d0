// MemoryRateLimiter against the rate limiter contract.
import { MemoryRateLimiter } from '@im-mesh/platform';
import { describeRateLimiterContract } from '../src/ports/rate-limiter/rate-limiter.contract.js';

describeRateLimiterContract('MemoryRateLimiter', async () => new MemoryRateLimiter());
