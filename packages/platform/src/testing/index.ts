// Helpers for tests of every package: real databases, log capture.
export { createTestDatabase, type TestDatabase } from './test-database.js';
export { FREE_PORTS } from './free-ports.js';
