import type { Directory, DirectoryUser } from '../directory/index.ts';

/**
 * What local users need of the Directory (src/identity/directory/, the one
 * writer of tenant_users and memberships): find and read users, list them
 * with their groups, note a sign-in, and write in one transaction with the
 * credentials, the invitation, the mail and the audit event (`write` hands
 * over the transaction).
 */
export type DirectoryPort = Pick<
  Directory,
  'findUser' | 'getUser' | 'listUsers' | 'userPage' | 'groupsOf' | 'recordSignIn' | 'write'
>;

export type LocalUser = DirectoryUser;
