import { useState } from 'react';
import { QrCode } from './QrCode.tsx';

/** True when the page was opened as localhost: its links do not work on another device. */
export function isLocalOnly(hostname: string = location.hostname): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\./.test(hostname) || hostname.endsWith('.localhost');
}

/**
 * The share link: copy it, or show it as a QR code for phones. `blocked` replaces the link
 * with a sentence when there is nothing right to share (the page's own link is invalid).
 */
export function ShareBox({ link, blocked }: { link: string; blocked?: string }) {
  const [copied, setCopied] = useState<'' | 'ok' | 'fail'>('');
  const [qr, setQr] = useState(false);

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setCopied('ok');
    } catch {
      setCopied('fail');
    }
    setTimeout(() => setCopied(''), 2000);
  };

  if (blocked) {
    return (
      <div className="share">
        <span className="share-title">Share link</span>
        <p className="muted small-text" data-testid="share-blocked">
          {blocked}
        </p>
      </div>
    );
  }
  return (
    <div className="share">
      <label htmlFor="share-link" className="share-title">
        Share link (reproduces this experiment)
      </label>
      <div className="share-row">
        <input id="share-link" readOnly value={link} data-testid="share-link" onFocus={(e) => e.target.select()} />
        <button type="button" onClick={copy} data-testid="share">
          {copied === 'ok' ? 'Copied!' : copied === 'fail' ? 'Select & copy' : 'Copy'}
        </button>
        <button type="button" className={qr ? 'pressed' : ''} aria-pressed={qr} aria-controls="share-qr" onClick={() => setQr(!qr)} data-testid="share-qr-toggle" title="Show the link as a QR code, for phones">
          QR
        </button>
      </div>
      {isLocalOnly() && (
        <p className="hint small-text" data-testid="share-localhost">
          This address works only on this computer. Start with <code>npm start -- --host</code> so other devices can join, and open the LAN address it prints.
        </p>
      )}
      {qr && (
        <div id="share-qr" className="qr-box">
          <QrCode text={link} label={`QR code of the share link ${link}`} testId="share-qr" />
        </div>
      )}
    </div>
  );
}
