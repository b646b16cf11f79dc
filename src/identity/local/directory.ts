import type { Directory, DirectoryUser } from '../directory/index.ts';

/**
 * What local users need of the Directory (src/identity/directory/, the one
 * writer of tenant_users and memberships): find and read users, list them
 * with their groups, and write in one transaction with the credentials, the
 * invitation, the mail and the audit event (`write` hands over the
 * transaction). The last sign-in is noted by the session that opens
 * (sessions/), not by the sign-in method.
 */
export type DirectoryPort = Pick<Directory, 'findUser' | 'getUser' | 'listUsers' | 'groupsOf' | 'write'>;

export type LocalUser = DirectoryUser;
