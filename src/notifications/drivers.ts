import nodemailer, { type Transporter } from 'nodemailer';
import type { EmailMessage, WebhookRequest } from './message.ts';

/**
 * The notifier drivers: the only code here that talks to the network. Their
 * errors name the server (a webhook URL's origin only: its path may be a
 * credential) and never carry a secret.
 */
export interface EmailDriver {
  send(to: string, message: EmailMessage): Promise<void>;
  close(): void;
}

export interface WebhookDriver {
  post(url: string, request: WebhookRequest): Promise<void>;
}

export class DeliveryError extends Error {}

export interface SmtpSettings {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  readonly secure: boolean;
  readonly from: string;
  readonly timeoutSeconds: number;
}

export interface SmtpCredentials {
  readonly user: string;
  readonly password: string;
}

/**
 * Sends over a pool of up to five SMTP connections, reused from message to
 * message; a new pool when the credentials in the secret store change.
 */
export function smtpDriver(
  settings: SmtpSettings,
  credentials: () => Promise<SmtpCredentials | undefined>,
): EmailDriver {
  const timeout = settings.timeoutSeconds * 1000;
  let pool: { readonly transport: Transporter; readonly auth: SmtpCredentials | undefined } | undefined;
  const transportFor = (auth: SmtpCredentials | undefined): Transporter => {
    if (pool && pool.auth?.user === auth?.user && pool.auth?.password === auth?.password)
      return pool.transport;
    pool?.transport.close();
    const transport = nodemailer.createTransport({
      pool: true,
      maxConnections: 5,
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      tls: { minVersion: 'TLSv1.2' },
      // Credentials never cross the network in clear: STARTTLS is a must then, except to this machine.
      requireTLS: auth !== undefined && !loopback(settings.host),
      ...(auth ? { auth: { user: auth.user, pass: auth.password } } : {}),
    });
    pool = { transport, auth };
    return transport;
  };
  return {
    async send(to, message) {
      const auth = await credentials();
      try {
        await transportFor(auth).sendMail({
          from: settings.from,
          to,
          subject: message.subject,
          text: message.text,
          messageId: message.messageId,
          headers: { ...message.headers },
        });
      } catch (error) {
        const e = error as { code?: string; responseCode?: number; message?: string };
        const detail = (e.message ?? '').split(auth?.password ?? '\0').join('***');
        throw new DeliveryError(
          `SMTP ${settings.host}:${settings.port}: ${e.code ?? ''}${e.responseCode ? ` ${e.responseCode}` : ''} ${detail}`.trim(),
          { cause: error },
        );
      }
    },
    close() {
      pool?.transport.close();
      pool = undefined;
    },
  };
}

function loopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function webhookDriver(timeoutSeconds: number): WebhookDriver {
  return {
    async post(url, request) {
      const origin = new URL(url).origin;
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          body: request.body,
          headers: request.headers,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutSeconds * 1000),
        });
      } catch (error) {
        const e = error as { name?: string; cause?: { code?: string } };
        const why =
          e.name === 'TimeoutError'
            ? `no answer within ${timeoutSeconds} s`
            : (e.cause?.code ?? e.name ?? 'network error');
        throw new DeliveryError(`webhook ${origin}: ${why}`, { cause: error });
      }
      // The body is not needed; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status < 200 || response.status > 299) {
        throw new DeliveryError(`webhook ${origin}: HTTP ${response.status}`);
      }
    },
  };
}
