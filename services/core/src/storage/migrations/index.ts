// Core's migrations in the order they apply. Append new classes; never edit an applied one.
import { CreateCoreTables1795680000000 } from './1795680000000-create-core-tables.js';
import { CreateOutboxDead1795690000000 } from './1795690000000-create-outbox-dead.js';
import { CreateGroups1795710000000 } from './1795710000000-create-groups.js';

export const coreMigrations = [CreateCoreTables1795680000000, CreateOutboxDead1795690000000, CreateGroups1795710000000];
