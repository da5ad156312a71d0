// Every migration of the auth schema, oldest first. openDatabase runs the ones
// not yet applied, under an advisory lock, at every start.
import { CreateAuthTables1764230400000 } from './1764230400000-create-auth-tables.js';
import { CreateUserContacts1764300000000 } from './1764300000000-create-user-contacts.js';
import { SessionsKeysBans1764400000000 } from './1764400000000-sessions-keys-bans.js';

export const authMigrations = [CreateAuthTables1764230400000, CreateUserContacts1764300000000, SessionsKeysBans1764400000000];
