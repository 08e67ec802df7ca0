import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One received message, as kept in `<dir>/messages.jsonl` (its raw form is `<dir>/<id>.eml`). */
export interface SinkMessage {
  id: string;
  receivedAt: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string | null;
  headers: Record<string, string>;
}

export interface SmtpSink {
  smtpUrl: string;
  uiUrl: string;
  dir: string;
  messages(): Promise<SinkMessage[]>;
  close(): Promise<void>;
}

const addresses = (value: AddressObject | AddressObject[] | undefined) =>
  (Array.isArray(value) ? value : value ? [value] : []).flatMap((object) =>
    object.value.map((entry) => entry.address ?? '').filter(Boolean),
  );

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

async function readMessages(dir: string): Promise<SinkMessage[]> {
  const text = await readFile(join(dir, 'messages.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SinkMessage);
}

function page(messages: SinkMessage[], smtpUrl: string): string {
  const rows = messages
    .slice()
    .reverse()
    .map(
      (m) =>
        `<tr><td>${escapeHtml(m.receivedAt)}</td><td>${escapeHtml(m.to.join(', '))}</td><td><a href="/messages/${m.id}">${escapeHtml(m.subject || '(no subject)')}</a></td><td><a href="/messages/${m.id}.eml">.eml</a></td></tr>`,
    )
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>MindWeave mail sink</title>
<style>body{font-family:system-ui,sans-serif;margin:24px}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}</style></head>
<body><h1>MindWeave mail sink</h1><p>${messages.length} message(s) received on ${escapeHtml(smtpUrl)}, newest first. Nothing here was delivered anywhere.</p>
<table><tr><th>received</th><th>to</th><th>subject</th><th>raw</th></tr>${rows}</table></body></html>`;
}

function messagePage(message: SinkMessage): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(message.subject)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px}pre{white-space:pre-wrap;background:#f6f8fa;padding:12px}iframe{width:100%;height:480px;border:1px solid #ddd}</style></head>
<body><p><a href="/">all messages</a></p><h1>${escapeHtml(message.subject)}</h1>
<p>From ${escapeHtml(message.from)} to ${escapeHtml(message.to.join(', '))}, ${escapeHtml(message.receivedAt)}</p>
<h2>Text</h2><pre>${escapeHtml(message.text)}</pre>
${message.html ? `<h2>HTML</h2><iframe sandbox srcdoc="${escapeHtml(message.html)}"></iframe>` : ''}</body></html>`;
}

/**
 * A local SMTP server that delivers nothing: every message is kept as `<id>.eml` plus a JSON line
 * in `<dir>/messages.jsonl`, and a small web page lists them for a person to read. Port 0 picks a
 * free port (the test stack does).
 */
export async function startSmtpSink(options: { smtpPort: number; uiPort: number; dir: string; host?: string }): Promise<SmtpSink> {
  const host = options.host ?? '127.0.0.1';
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true });
  // Appends are serialized so that concurrent messages never interleave their lines.
  let writing: Promise<unknown> = Promise.resolve();

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    closeTimeout: 2_000,
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const id = `${Date.now()}-${randomUUID().slice(0, 8)}`;
        const saved = simpleParser(raw).then(async (mail) => {
          const message: SinkMessage = {
            id,
            receivedAt: new Date().toISOString(),
            from: addresses(mail.from)[0] ?? (session.envelope.mailFrom ? session.envelope.mailFrom.address : ''),
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : null,
            headers: Object.fromEntries(
              [...mail.headers].map(([name, value]) => [name, typeof value === 'string' ? value : JSON.stringify(value)]),
            ),
          };
          await writeFile(join(dir, `${id}.eml`), raw);
          await appendFile(join(dir, 'messages.jsonl'), `${JSON.stringify(message)}\n`);
        });
        writing = writing.then(() => saved);
        saved.then(
          () => callback(),
          (error: Error) => callback(error),
        );
      });
    },
  });
  smtp.on('error', () => undefined);
  const smtpPort = await new Promise<number>((done, fail) => {
    smtp.server.once('error', fail);
    smtp.listen(options.smtpPort, host, () => done((smtp.server.address() as { port: number }).port));
  });
  const smtpUrl = `smtp://${host}:${smtpPort}`;

  const ui: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://sink').pathname;
    const messages = await readMessages(dir);
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(page(messages, smtpUrl));
    }
    if (path === '/api/messages') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(messages));
    }
    const match = /^\/messages\/([\w-]+?)(\.eml)?$/.exec(path);
    const message = match ? messages.find((m) => m.id === match[1]) : undefined;
    if (!match || !message) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    if (match[2]) {
      res.writeHead(200, { 'content-type': 'message/rfc822' });
      return res.end(await readFile(join(dir, `${message.id}.eml`)));
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'",
    });
    return res.end(messagePage(message));
  });
  const uiPort = await new Promise<number>((done, fail) => {
    ui.once('error', fail);
    ui.listen(options.uiPort, host, () => done((ui.address() as { port: number }).port));
  });

  return {
    smtpUrl,
    uiUrl: `http://${host === '0.0.0.0' ? 'localhost' : host}:${uiPort}/`,
    dir,
    messages: () => readMessages(dir),
    async close() {
      await writing.catch(() => undefined);
      await Promise.all([new Promise<void>((done) => smtp.close(() => done())), new Promise<void>((done) => ui.close(() => done()))]);
    },
  };
}

// Run on its own: `tsx scripts/smtp-sink.ts` (SMTP on 1025, the page on MAIL_UI_PORT, messages in MAIL_DIR).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sink = await startSmtpSink({
    smtpPort: Number(process.env['SMTP_PORT'] ?? 1025),
    uiPort: Number(process.env['MAIL_UI_PORT'] ?? 4025),
    dir: process.env['MAIL_DIR'] ?? '.mindweave/mail',
  });
  process.stdout.write(`SMTP sink on ${sink.smtpUrl}; messages at ${sink.uiUrl} (kept in ${sink.dir})\n`);
  const stop = () => void sink.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
