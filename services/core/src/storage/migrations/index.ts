// Core's migrations in the order they apply. Append new classes; never edit an applied one.
import { CreateCoreTables1795680000000 } from './1795680000000-create-core-tables.js';

export const coreMigrations = [CreateCoreTables1795680000000];
