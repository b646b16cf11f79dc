import { useT } from '../app/i18n.tsx';

/** How a state reads at a glance. The text always says it too: colour is never the only sign. */
export type Tone = 'good' | 'busy' | 'bad' | 'idle' | 'warn';

const tones: Readonly<Record<string, Tone>> = {
  ready: 'good',
  healthy: 'good',
  running: 'good',
  succeeded: 'good',
  passed: 'good',
  ok: 'good',
  active: 'good',
  resolved: 'good',
  provisioning: 'busy',
  pending: 'busy',
  deploying: 'busy',
  migrating: 'busy',
  starting: 'busy',
  deleting: 'busy',
  queued: 'busy',
  stopping: 'busy',
  degraded: 'warn',
  paused: 'warn',
  unknown: 'idle',
  stopped: 'idle',
  deleted: 'idle',
  superseded: 'idle',
  'rolled-back': 'idle',
  failed: 'bad',
  crashed: 'bad',
  unhealthy: 'bad',
  firing: 'bad',
  error: 'bad',
};

export function toneOf(state: string): Tone {
  return tones[state.toLowerCase()] ?? 'idle';
}

/** A state word (a phase, a health) as a badge; the word is translated when the catalogue knows it. */
export function StatusBadge(props: { readonly state: string | null | undefined; readonly tone?: Tone }) {
  const t = useT();
  const state = props.state ?? 'unknown';
  const key = `state.${state}`;
  const text = t(key);
  return <span className={`badge badge-${props.tone ?? toneOf(state)}`}>{text === key ? state : text}</span>;
}
