import { describe, expect, it } from 'vitest';
import { describeStep, parseStep } from '../../src/oncall/escalation.ts';
import { moveStep, stepDraft, stepText, type StepDraft } from '../../web/src/pages/oncall/types.ts';

/**
 * The escalation policy editor's pure parts: a step's fields as the text the
 * API parses (by the on-call module's own parser), the API's text back into
 * the fields, and moving a step.
 */
const known = { schedules: ['primary'], operators: ['opal', 'mia'], channels: ['ops-mail'] };
const draft = (d: Omit<StepDraft, 'key'>): StepDraft => ({ key: 1, ...d });

describe('escalation steps in the editor', () => {
  it.each([
    [draft({ delay: '0', unit: 'm', target: 'schedule', name: 'primary' }), 'notify schedule primary'],
    [draft({ delay: '15', unit: 'm', target: 'owners', name: 'ignored' }), 'after 15m notify owners'],
    [
      draft({ delay: ' 2 ', unit: 'h', target: 'operators', name: 'opal,mia' }),
      'after 2h notify operators opal,mia',
    ],
    [draft({ delay: '', unit: 's', target: 'channel', name: 'ops-mail' }), 'notify channel ops-mail'],
    [draft({ delay: '30', unit: 's', target: 'channels', name: '' }), 'after 30s notify channels'],
  ])('%o is sent as "%s", which the API parses and shows back the same', (step, text) => {
    expect(stepText(step)).toBe(text);
    const shown = describeStep(parseStep(text, known));
    expect(stepDraft(shown, 1)).toMatchObject({
      target: step.target,
      name: ['channels', 'owners'].includes(step.target) ? '' : step.name,
    });
    expect(stepText(stepDraft(shown, 1))).toBe(shown);
  });

  it('sends a bad delay as typed, and the API names it', () => {
    const text = stepText(draft({ delay: 'soon', unit: 'm', target: 'owners', name: '' }));
    expect(() => parseStep(text, known)).toThrow(/field "steps": "after soonm notify owners" is not a step/);
  });

  it('moves a step up and down, and not past either end', () => {
    expect(moveStep(['a', 'b', 'c'], 2, -1)).toEqual(['a', 'c', 'b']);
    expect(moveStep(['a', 'b', 'c'], 0, 1)).toEqual(['b', 'a', 'c']);
    expect(moveStep(['a', 'b', 'c'], 0, -1)).toEqual(['a', 'b', 'c']);
    expect(moveStep(['a', 'b', 'c'], 2, 1)).toEqual(['a', 'b', 'c']);
  });
});
