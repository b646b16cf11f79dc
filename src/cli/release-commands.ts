import type { Command } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import type { paths } from '../api/client/schema.ts';
import type { ResponseBody } from '../api/client/typed.ts';
import { packDirectory } from '../system/pack.ts';
import type { ApiClient } from './client.ts';
import { formatBytes, printJson, printTable, progressReporter } from './output.ts';

export interface ReleaseCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
  readonly confirm: (what: string, expected: string, yes: boolean | undefined) => Promise<void>;
}

type ReleaseView = ResponseBody<paths, '/api/v1/releases/{app}/{version}'>;
type AddedRelease = ResponseBody<paths, '/api/v1/releases', 'post'>;
const enc = encodeURIComponent;

/** steward release …: immutable, versioned copies of the app, added from a directory or a .tar.gz. */
export function releaseCommands(program: Command, cli: ReleaseCliContext): void {
  const release = program.command('release').description('releases: immutable, versioned copies of the app');
  release
    .command('add <source>')
    .description('add a release from a directory or a .tar.gz; it carries its steward.yaml')
    .requiredOption('--version <version>', 'release version, for example 1.0.0')
    .action(async (source: string, o: { version: string }) => {
      const progress = progressReporter(!cli.json());
      try {
        const info = await stat(source).catch(() => {
          throw new Error(`${source} does not exist; give a directory or a .tar.gz file`);
        });
        const archive = info.isDirectory()
          ? await packDirectory(source, (bytes) =>
              progress.update(`packing ${source}: ${formatBytes(bytes)}`),
            )
          : await readFile(source);
        const added = await cli
          .client()
          .upload<AddedRelease>(
            `/api/v1/releases?version=${enc(o.version)}`,
            archive,
            'application/gzip',
            (sent, total) =>
              progress.update(
                sent < total
                  ? `uploading: ${formatBytes(sent)} of ${formatBytes(total)} (${Math.floor((sent / total) * 100)} %)`
                  : `uploaded ${formatBytes(total)}; unpacking and building on the server`,
              ),
          );
        progress.done();
        if (cli.json()) return printJson(added);
        process.stdout.write(
          added.created
            ? `release ${added.app} ${added.version} added (${added.checksum}, ${formatBytes(added.sizeBytes)})\n`
            : `release ${added.app} ${added.version} is already there with the same content (${added.checksum})\n`,
        );
      } finally {
        progress.done();
      }
    });
  release
    .command('list')
    .description('list releases')
    .option('--app <name>', 'only releases of this app')
    .action(async (o: { app?: string }) => {
      const releases = await cli.client().api.all('/api/v1/releases', { query: o.app ? { app: o.app } : {} });
      if (cli.json()) return printJson(releases);
      printTable(
        ['app', 'version', 'checksum', 'size', 'processes', 'created'],
        releases.map((r) => [
          r.app,
          r.version,
          r.checksum.slice(0, 19),
          formatBytes(r.sizeBytes),
          Object.keys(r.definition.processes).join(','),
          r.createdAt,
        ]),
      );
    });
  release
    .command('show <app> <version>')
    .description('show a release: checksum, size, processes and health settings')
    .action(async (app: string, version: string) =>
      showRelease(
        cli.json(),
        await cli.client().api.get('/api/v1/releases/{app}/{version}', { params: { app, version } }),
      ),
    );
  release
    .command('remove <app> <version>')
    .description('remove a release that no stage runs')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (app: string, version: string, o: { yes?: boolean }) => {
      const api = cli.client().api;
      await api.get('/api/v1/releases/{app}/{version}', { params: { app, version } });
      await cli.confirm(`This removes release ${app} ${version} and its files`, version, o.yes);
      const removed = await api.delete('/api/v1/releases/{app}/{version}', { params: { app, version } });
      if (cli.json()) return printJson(removed);
      process.stdout.write(`release ${removed.app} ${removed.version} removed\n`);
    });
}

function showRelease(json: boolean, release: ReleaseView): void {
  if (json) return printJson(release);
  const d = release.definition;
  process.stdout.write(
    `release ${release.app} ${release.version}\n` +
      `checksum ${release.checksum}\nsize     ${formatBytes(release.sizeBytes)}\n` +
      `path     ${release.path}\ncreated  ${release.createdAt}\n` +
      `health   ${d.health ? `${d.health.path} every ${d.health.intervalSeconds} s` : '-'}\n` +
      `migrate  ${d.migrate?.command ?? '-'}\n\n`,
  );
  printTable(
    ['process', 'command', 'port', 'instances'],
    Object.entries(d.processes).map(([name, p]) => [name, p.command, p.port ? 'yes' : 'no', p.instances]),
  );
}
