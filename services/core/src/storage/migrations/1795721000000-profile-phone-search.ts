// Whether a user may be found by phone number (UserService.SearchUsers). NULL
// means the user never chose: the server's CORE_PHONE_SEARCH_DEFAULT applies.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ProfilePhoneSearch1795721000000 implements MigrationInterface {
  name = 'ProfilePhoneSearch1795721000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`ALTER TABLE user_profiles ADD COLUMN findable_by_phone boolean`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`ALTER TABLE user_profiles DROP COLUMN findable_by_phone`);
  }
}
