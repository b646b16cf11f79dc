import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A tenant's process that swaps the directory `name` of `dir` with a symlink
 * to `target`, atomically and without pause (renameat2 RENAME_EXCHANGE from
 * perl, x86_64): whatever Steward checks about it, the next moment it may be
 * the other one. With `uid`, it runs as that user (a stage's).
 */
export function startSwapper(dir: string, name: string, target: string, uid?: number): ChildProcess {
  const script = `
    my ($dir, $name, $target) = @ARGV;
    chdir $dir or die "chdir: $!";
    mkdir $name;
    open(my $f, ">", "$name/f") or die "open: $!"; print $f "mine"; close $f;
    symlink $target, "$name.alt" or die "symlink: $!";
    my ($a, $b) = ("$name.alt", $name);
    while (1) { syscall(316, -100, $a, -100, $b, 2); }
  `;
  return spawn('perl', ['-e', script, dir, name, target], {
    stdio: 'ignore',
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
}

export async function stopSwapper(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
