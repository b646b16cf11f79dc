/** The tenant-wide sign-in settings as the form holds them: text, empty for "as before". */
export type SettingsForm = Readonly<
  Record<'localUsers' | 'signIn' | 'idleMinutes' | 'absoluteHours' | 'mfa', string>
>;

/**
 * A form's text as the API's PATCH body: empty means "as before" (null
 * clears the tenant's value); a number field that is not a number goes as
 * typed, so the API's message names it.
 */
export function settingsPatch(form: SettingsForm): Record<string, unknown> {
  const number = (text: string): unknown =>
    text.trim() === '' ? null : Number.isFinite(Number(text)) ? Number(text) : text;
  return {
    signIn: form.signIn || null,
    mfa: form.mfa || null,
    localUsers: form.localUsers === '' ? null : form.localUsers === 'true',
    idleMinutes: number(form.idleMinutes),
    absoluteHours: number(form.absoluteHours),
  };
}
