import { describe, expect, it } from 'vitest';
import { checkRepositoryGeography } from '../../../src/backups/geography.ts';
import { InputError } from '../../../src/core/errors.ts';

const regions = [
  { name: 'eu-central', geography: 'eu' },
  { name: 'eu-west', geography: 'eu' },
  { name: 'us-east', geography: 'us' },
];
const acme = { slug: 'acme', region: 'eu-central' };

describe('checkRepositoryGeography', () => {
  const accepted: { name: string; repositories: { name: string; region: string }[] }[] = [
    {
      name: 'both repositories in the tenant’s own region',
      repositories: [
        { name: 'repo1', region: 'eu-central' },
        { name: 'repo2', region: 'eu-central' },
      ],
    },
    {
      name: 'the off-site repository in another region of the same geography',
      repositories: [
        { name: 'repo1', region: 'eu-central' },
        { name: 'repo2', region: 'eu-west' },
      ],
    },
    { name: 'no repository at all', repositories: [] },
  ];
  for (const c of accepted) {
    it(`accepts ${c.name}`, () => {
      expect(() => checkRepositoryGeography(regions, c.repositories, acme)).not.toThrow();
    });
  }

  const refused: {
    name: string;
    repositories: { name: string; region: string }[];
    tenant?: { slug: string; region: string };
    message: string;
    field: string;
  }[] = [
    {
      name: 'a repository in another geography',
      repositories: [
        { name: 'repo1', region: 'eu-central' },
        { name: 'repo2', region: 'us-east' },
      ],
      message:
        "backup repository repo2 is in region us-east (geography us), outside tenant acme's geography eu; choose a repository region in eu (eu-central, eu-west)",
      field: 'repositories[1].region',
    },
    {
      name: 'a repository in a region that is not configured',
      repositories: [{ name: 'repo1', region: 'mars-1' }],
      message:
        'backup repository repo1 names region "mars-1", which is not configured; choose a repository region in eu (eu-central, eu-west)',
      field: 'repositories[0].region',
    },
    {
      name: 'a tenant in a region that is not configured',
      repositories: [{ name: 'repo1', region: 'eu-central' }],
      tenant: { slug: 'globex', region: 'ap-south' },
      message:
        'tenant globex\'s region "ap-south" is not a configured region; configured: eu-central (eu), eu-west (eu), us-east (us)',
      field: 'region',
    },
    {
      name: 'a US tenant with a European off-site copy',
      repositories: [
        { name: 'repo1', region: 'us-east' },
        { name: 'repo2', region: 'eu-west' },
      ],
      tenant: { slug: 'initech', region: 'us-east' },
      message:
        "backup repository repo2 is in region eu-west (geography eu), outside tenant initech's geography us; choose a repository region in us (us-east)",
      field: 'repositories[1].region',
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      let thrown: unknown;
      try {
        checkRepositoryGeography(regions, c.repositories, c.tenant ?? acme);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InputError);
      expect((thrown as InputError).message).toBe(c.message);
      expect((thrown as InputError).field).toBe(c.field);
    });
  }

  it('names the first repository out of place', () => {
    expect(() =>
      checkRepositoryGeography(
        regions,
        [
          { name: 'repo1', region: 'us-east' },
          { name: 'repo2', region: 'nowhere' },
        ],
        acme,
      ),
    ).toThrow(/^backup repository repo1 /);
  });
});
