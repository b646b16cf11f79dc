import type { Directory, DirectoryUser } from '../directory/index.ts';
import type { JoinUser, OidcDirectory } from './join.ts';

/** The join's view of the Directory (the one writer of tenant_users): find by userName or e-mail, provision with source oidc. */
export function directoryJoin(directory: Directory): OidcDirectory {
  const of = (user: DirectoryUser): JoinUser => ({
    id: user.id,
    userName: user.userName,
    email: user.email,
    active: user.active,
  });
  return {
    async user(tenantId, id) {
      const user = await directory.getUser(tenantId, id);
      return user && of(user);
    },
    async matching(tenantId, value) {
      const [byName, byEmail] = await Promise.all([
        directory.findUser(tenantId, { userName: value }),
        value.includes('@') ? directory.usersByEmail(tenantId, value) : Promise.resolve([]),
      ]);
      const users = byName ? [byName, ...byEmail.filter((u) => u.id !== byName.id)] : byEmail;
      return users.map(of);
    },
    async provision(tenantId, fields) {
      return of(
        await directory.createUser(
          tenantId,
          { userName: fields.userName, email: fields.email, displayName: fields.displayName },
          'oidc',
        ),
      );
    },
  };
}
