// Core's migrations in the order they apply. Append new classes; never edit an applied one.
import { CreateCoreTables1795680000000 } from './1795680000000-create-core-tables.js';
import { CreateOutboxDead1795690000000 } from './1795690000000-create-outbox-dead.js';
import { MessageKindsAndState1795700000000 } from './1795700000000-message-kinds-and-state.js';
import { CreateGroups1795710000000 } from './1795710000000-create-groups.js';
import { CreateFilesAndSocial1795720000000 } from './1795720000000-create-files-and-social.js';
import { ProfilePhoneSearch1795721000000 } from './1795721000000-profile-phone-search.js';

export const coreMigrations = [CreateCoreTables1795680000000, CreateOutboxDead1795690000000, MessageKindsAndState1795700000000, CreateGroups1795710000000, CreateFilesAndSocial1795720000000, ProfilePhoneSearch1795721000000];
