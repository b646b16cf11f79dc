import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The browser's part of a WebAuthn ceremony, served as static files under
 * `/.steward/auth/webauthn/` (the pages' CSP allows scripts from the host
 * itself and no inline script): @simplewebauthn/browser's bundle, and this
 * glue. A form marked `data-webauthn` carries the options (JSON) in
 * `data-options`; on submit the glue runs the ceremony, puts the
 * credential's JSON into the form's `response` field and sends the form.
 */
export const webauthnGlue = `(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  document.querySelectorAll('form[data-webauthn]').forEach(function (form) {
    var problem = form.querySelector('[data-webauthn-error]');
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var optionsJSON = JSON.parse(form.getAttribute('data-options'));
      var ceremony = form.getAttribute('data-webauthn') === 'register'
        ? lib.startRegistration({ optionsJSON: optionsJSON })
        : lib.startAuthentication({ optionsJSON: optionsJSON });
      ceremony.then(function (credential) {
        form.elements.namedItem('response').value = JSON.stringify(credential);
        form.submit();
      }, function (error) {
        if (!problem) return;
        problem.textContent = 'The security key did not answer (' + (error && error.name) + '). Try again.';
        problem.hidden = false;
      });
    });
  });
})();
`;

let bundle: Promise<string> | undefined;

/** @simplewebauthn/browser's UMD bundle (it defines `window.SimpleWebAuthnBrowser`), read once. */
export function webauthnBrowserBundle(): Promise<string> {
  bundle ??= readFile(
    join(
      dirname(fileURLToPath(import.meta.resolve('@simplewebauthn/browser'))),
      '../dist/bundle/index.umd.min.js',
    ),
    'utf8',
  );
  return bundle;
}
