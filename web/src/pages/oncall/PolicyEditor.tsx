import { useEffect, useRef, useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { describeError } from '../../app/api.ts';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation } from '../../app/query.ts';
import { Button, Form, numberOrTyped, SelectField, TextField } from '../../ui/index.ts';
import {
  delayUnits,
  moveStep,
  namesSomeone,
  stepDraft,
  stepTargets,
  stepText,
  type PolicyRow,
  type StepDraft,
} from './types.ts';

let nextKey = 1;
const newStep = (): StepDraft => ({ key: nextKey++, delay: '0', unit: 'm', target: 'schedule', name: '' });

/**
 * Creates or edits an escalation policy: its ordered steps (each a delay,
 * whom and which), added, removed and moved with buttons, so the keyboard
 * does all of it. The API parses the steps; its message about a step lands
 * under the steps, about the name or the repeats under those.
 */
export function PolicyEditor(props: {
  /** The policy being edited; null for a new one. */
  readonly policy: PolicyRow | null;
  readonly schedules: readonly string[];
  readonly onSaved: (policy: PolicyRow) => void;
  readonly onCancel: () => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState(props.policy?.name ?? '');
  const [repeat, setRepeat] = useState(String(props.policy?.repeat ?? 0));
  const [steps, setSteps] = useState<StepDraft[]>(() =>
    props.policy ? props.policy.steps.map((s) => stepDraft(s, nextKey++)) : [newStep()],
  );
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [props.policy]);
  const save = useMutation(
    (api: ConsoleApi, input: { name: string; steps: string[]; repeat: string }) =>
      api.put('/api/v1/oncall/escalation-policies/{name}', {
        params: { name: input.name },
        // Sent as typed: the API names a repeat of "two" rather than the console guessing a number.
        body: { steps: input.steps, repeat: numberOrTyped(input.repeat) },
      }),
    { onSuccess: (policy) => props.onSaved(policy) },
  );
  const failure = describeError(save.error);
  const stepsError = save.error && failure.field === 'steps' ? failure.message : null;
  const update = (index: number, change: Partial<StepDraft>) =>
    setSteps((all) => all.map((s, i) => (i === index ? { ...s, ...change } : s)));
  // After a move the focus follows the step: on the same button, or on the other one at either end.
  const move = (index: number, by: -1 | 1) => {
    setSteps((all) => moveStep(all, index, by));
    const to = index + by;
    requestAnimationFrame(() => {
      const same = document.getElementById(`oncall-step-${to}-${by < 0 ? 'up' : 'down'}`);
      const other = document.getElementById(`oncall-step-${to}-${by < 0 ? 'down' : 'up'}`);
      ((same as HTMLButtonElement | null)?.disabled ? other : same)?.focus();
    });
  };
  const title = props.policy ? t('oncall.policy.edit', { name: props.policy.name }) : t('oncall.policy.new');
  return (
    <section aria-labelledby="oncall-policy-editor" className="panel">
      <h3 id="oncall-policy-editor" tabIndex={-1} ref={heading}>
        {title}
      </h3>
      <Form
        label={title}
        error={stepsError ? null : save.error}
        onSubmit={() => save.mutate({ name: name.trim(), steps: steps.map(stepText), repeat: repeat.trim() })}
      >
        <TextField
          name="name"
          label={t('oncall.policy.name')}
          hint={t('oncall.policy.nameHint')}
          value={name}
          onValue={setName}
          readOnly={props.policy !== null}
          required
        />
        <fieldset aria-describedby={stepsError ? 'oncall-steps-error' : undefined}>
          <legend>{t('oncall.policy.steps')}</legend>
          <ol className="steps-editor">
            {steps.map((step, i) => {
              const n = i + 1;
              return (
                <li key={step.key} aria-label={t('oncall.step.label', { n })}>
                  <TextField
                    name={`step-${n}-delay`}
                    label={t('oncall.step.delay', { n })}
                    value={step.delay}
                    inputMode="numeric"
                    size={5}
                    onValue={(delay) => update(i, { delay })}
                  />
                  <SelectField
                    name={`step-${n}-unit`}
                    label={t('oncall.step.unit', { n })}
                    value={step.unit}
                    options={delayUnits.map((u) => ({ value: u, label: t(`oncall.unit.${u}`) }))}
                    onValue={(unit) => update(i, { unit })}
                  />
                  <SelectField
                    name={`step-${n}-target`}
                    label={t('oncall.step.target', { n })}
                    value={step.target}
                    options={stepTargets.map((k) => ({ value: k, label: t(`oncall.target.${k}`) }))}
                    onValue={(target) => update(i, { target: target as StepDraft['target'] })}
                  />
                  {step.target === 'schedule' && props.schedules.length > 0 ? (
                    <SelectField
                      name={`step-${n}-name`}
                      label={t('oncall.step.schedule', { n })}
                      value={step.name}
                      options={[
                        { value: '', label: t('oncall.step.choose') },
                        ...props.schedules.map((s) => ({ value: s, label: s })),
                      ]}
                      onValue={(value) => update(i, { name: value })}
                    />
                  ) : namesSomeone(step.target) ? (
                    <TextField
                      name={`step-${n}-name`}
                      label={t(`oncall.step.name.${step.target}`, { n })}
                      value={step.name}
                      onValue={(value) => update(i, { name: value })}
                    />
                  ) : null}
                  <div className="actions">
                    <Button
                      id={`oncall-step-${i}-up`}
                      aria-label={t('oncall.step.up', { n })}
                      disabled={i === 0}
                      onClick={() => move(i, -1)}
                    >
                      ↑
                    </Button>
                    <Button
                      id={`oncall-step-${i}-down`}
                      aria-label={t('oncall.step.down', { n })}
                      disabled={i === steps.length - 1}
                      onClick={() => move(i, 1)}
                    >
                      ↓
                    </Button>
                    <Button
                      variant="link"
                      aria-label={t('oncall.step.remove', { n })}
                      disabled={steps.length === 1}
                      onClick={() => setSteps((all) => all.filter((_, j) => j !== i))}
                    >
                      {t('oncall.step.removeShort')}
                    </Button>
                  </div>
                </li>
              );
            })}
          </ol>
          {stepsError ? (
            <div className="field-error" id="oncall-steps-error" role="alert">
              {stepsError}
            </div>
          ) : null}
          <Button onClick={() => setSteps((all) => [...all, newStep()])} disabled={steps.length >= 20}>
            {t('oncall.step.add')}
          </Button>
        </fieldset>
        <TextField
          name="repeat"
          label={t('oncall.policy.repeatLabel')}
          value={repeat}
          inputMode="numeric"
          onValue={setRepeat}
        />
        <div className="actions">
          <Button type="submit" variant="primary" busy={save.pending}>
            {t('oncall.policy.save')}
          </Button>
          <Button onClick={props.onCancel}>{t('oncall.cancel')}</Button>
        </div>
      </Form>
    </section>
  );
}
