/** A labelled progress bar; without `value` it is indeterminate (work of unknown length). */
export function Progress(props: { readonly label: string; readonly value?: number; readonly max?: number }) {
  return (
    <div className="progress">
      <span>{props.label}</span>
      <progress
        aria-label={props.label}
        {...(props.value !== undefined ? { value: props.value, max: props.max ?? 100 } : {})}
      />
    </div>
  );
}

/** Steps of a workflow with the current one marked: a deploy's or a restore's progress. */
export function Steps(props: {
  readonly label: string;
  readonly steps: readonly {
    readonly key: string;
    readonly label: string;
    readonly state: 'done' | 'current' | 'todo' | 'failed';
  }[];
}) {
  return (
    <ol className="steps" aria-label={props.label}>
      {props.steps.map((step) => (
        <li
          key={step.key}
          className={`step step-${step.state}`}
          aria-current={step.state === 'current' ? 'step' : undefined}
        >
          {step.label}
        </li>
      ))}
    </ol>
  );
}
