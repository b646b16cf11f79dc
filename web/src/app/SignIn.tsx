import { useState } from 'react';
import { useI18n } from './i18n.tsx';
import { useSessionState } from './session.tsx';
import { Button } from '../ui/Button.tsx';
import { Form, TextField } from '../ui/Form.tsx';
import { LanguageSwitch } from './Layout.tsx';

/**
 * Sign-in for operators and tenant admins: username, password and the
 * TOTP code in one form. The API's error lands under the field it names
 * (`totp` when the code is missing or wrong).
 */
export default function SignIn() {
  const { t } = useI18n();
  const { signIn, state } = useSessionState();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await signIn({ username, password, totp });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };
  return (
    <div className="signin-page">
      <header className="signin-head">
        <span className="brand">Steward</span>
        <LanguageSwitch />
      </header>
      <main id="main" className="signin">
        <h1>{t('signin.title')}</h1>
        {state.kind === 'signed-out' && state.expired ? (
          <p className="banner" role="status">
            {t('signin.expired')}
          </p>
        ) : null}
        <Form onSubmit={submit} error={error} label={t('signin.title')}>
          <TextField
            name="username"
            label={t('signin.username')}
            value={username}
            onValue={setUsername}
            autoComplete="username"
            required
            autoFocus
          />
          <TextField
            name="password"
            label={t('signin.password')}
            type="password"
            value={password}
            onValue={setPassword}
            autoComplete="current-password"
            required
          />
          <TextField
            name="totp"
            label={t('signin.totp')}
            hint={t('signin.totpHint')}
            value={totp}
            onValue={setTotp}
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9]*"
            maxLength={8}
          />
          <Button type="submit" variant="primary" busy={busy}>
            {t('signin.submit')}
          </Button>
        </Form>
      </main>
    </div>
  );
}
