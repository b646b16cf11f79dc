import type { Command } from 'commander';
import type { paths } from '../api/client/schema.ts';
import type { RequestBody, ResponseBody } from '../api/client/typed.ts';
import type { ApiClient } from './client.ts';
import { printJson, printTable } from './output.ts';

/** `steward tenant contact set|remove|list`: a tenant's contacts, thin over the API. */
export interface ContactCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

type TenantView = ResponseBody<paths, '/api/v1/tenants/{tenant}/contacts', 'post'>;
type ContactInput = RequestBody<paths, '/api/v1/tenants/{tenant}/contacts', 'post'>;

function showContacts(tenant: TenantView, json: boolean): void {
  const contacts = tenant.contacts;
  if (json) return printJson(contacts);
  printTable(
    ['name', 'email', 'role'],
    contacts.map((c) => [c.name, c.email, c.role]),
  );
}

export function contactCommands(tenant: Command, { client, json }: ContactCliContext): void {
  const contact = tenant
    .command('contact')
    .description("a tenant's contacts: technical ones hear of planned maintenance");
  contact
    .command('set <tenant>')
    .description('add a contact, or change the one with this email')
    .requiredOption('--email <email>', 'the contact’s email address')
    .option('--name <name>', 'the contact’s name (default: the email address)')
    .option('--role <role>', 'technical (default), billing, security or privacy')
    .action(async (slug: string, o: { email: string; name?: string; role?: string }) => {
      const view = await client().api.post('/api/v1/tenants/{tenant}/contacts', {
        params: { tenant: slug },
        body: {
          email: o.email,
          name: o.name ?? o.email,
          // The API names the field and the roles it accepts.
          ...(o.role !== undefined ? { role: o.role as ContactInput['role'] } : {}),
        },
      });
      showContacts(view, json());
    });
  contact
    .command('remove <tenant>')
    .description('remove a contact')
    .requiredOption('--email <email>', 'the contact’s email address')
    .action(async (slug: string, o: { email: string }) => {
      const view = await client().api.delete('/api/v1/tenants/{tenant}/contacts/{email}', {
        params: { tenant: slug, email: o.email },
      });
      showContacts(view, json());
    });
  contact
    .command('list <tenant>')
    .description("the tenant's contacts")
    .action(async (slug: string) => {
      showContacts(await client().api.get('/api/v1/tenants/{tenant}', { params: { tenant: slug } }), json());
    });
}
