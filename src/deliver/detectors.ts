/**
 * Content detectors, the backstop behind policy masking: values that look like payment card numbers
 * (13–19 digits passing the Luhn check, ISO/IEC 7812-1), US social security numbers (AAA-GG-SSSS,
 * area not 000/666/9xx), email addresses, or IBANs (ISO 13616, mod-97 = 1) are redacted inside any
 * string, keeping only the last four characters (`XXXXX1234`; emails as EMAIL_MASK `XXXXX@domain`).
 */
export type DetectorKind = 'card' | 'ssn' | 'email' | 'iban';

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

function ibanValid(iban: string): boolean {
  const s = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (const ch of s) {
    const v = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of v) rem = (rem * 10 + Number(d)) % 97;
  }
  return rem === 1;
}

const CARD = /(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])/g;
const SSN = /(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)/g;
const EMAIL = /(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const IBAN = /\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b/g;

const lastFour = (s: string) => `XXXXX${s.replace(/[ -]/g, '').slice(-4)}`;

/** Redacts every detected value in `text`; returns the new text and what was found. */
export function redact(text: string): { text: string; found: DetectorKind[] } {
  const found: DetectorKind[] = [];
  let out = text.replace(CARD, (m) => {
    const digits = m.replace(/[ -]/g, '');
    if (digits.length < 13 || digits.length > 19 || !luhn(digits)) return m;
    found.push('card');
    return lastFour(m);
  });
  out = out.replace(SSN, (m) => { found.push('ssn'); return lastFour(m); });
  out = out.replace(EMAIL, (m) => {
    if (m.startsWith('XXXXX@')) return m;
    found.push('email');
    return `XXXXX${m.slice(m.indexOf('@'))}`;
  });
  out = out.replace(IBAN, (m) => { if (!ibanValid(m)) return m; found.push('iban'); return lastFour(m); });
  return { text: out, found };
}
