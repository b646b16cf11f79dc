import nodemailer from 'nodemailer';
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

export function smtpDriver(
  settings: SmtpSettings,
  credentials: () => Promise<SmtpCredentials | undefined>,
): EmailDriver {
  const timeout = settings.timeoutSeconds * 1000;
  return {
    async send(to, message) {
      const auth = await credentials();
      const transport = nodemailer.createTransport({
        host: settings.host,
        port: settings.port,
        secure: settings.secure,
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
        ...(auth ? { auth: { user: auth.user, pass: auth.password } } : {}),
      });
      try {
        await transport.sendMail({
          from: settings.from,
          to,
          subject: message.subject,
          text: message.text,
          messageId: message.messageId,
          headers: { ...message.headers },
        });
      } catch (error) {
        const e = error as { code?: string; responseCode?: number; message?: string };
        throw new DeliveryError(
          `SMTP ${settings.host}:${settings.port}: ${e.code ?? ''}${e.responseCode ? ` ${e.responseCode}` : ''} ${(e.message ?? '').replace(auth?.password ?? '\0', '***')}`.trim(),
          { cause: error },
        );
      } finally {
        transport.close();
      }
    },
    close() {},
  };
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
