// Core's migrations in the order they apply. Append new classes; never edit an applied one.
import { CreateCoreTables1795680000000 } from './1795680000000-create-core-tables.js';
import { CreateOutboxDead1795690000000 } from './1795690000000-create-outbox-dead.js';

export const coreMigrations = [CreateCoreTables1795680000000, CreateOutboxDead1795690000000];
