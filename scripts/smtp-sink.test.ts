import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

describe('the SMTP sink', () => {
  let sink: SmtpSink;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smtp-sink-'));
    sink = await startSmtpSink({ smtpPort: 0, uiPort: 0, dir });
  });
  afterAll(async () => {
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every message as a .eml file and a JSON line, and lists them on a page', async () => {
    const transport = nodemailer.createTransport(sink.smtpUrl);
    await transport.sendMail({
      from: 'MindWeave <no-reply@mindweave.dev>',
      to: 'ada@example.com',
      subject: 'Hello <there>',
      text: 'Plain part',
      html: '<p>HTML part</p>',
    });
    transport.close();

    const [message] = await sink.messages();
    expect(message).toMatchObject({
      from: 'no-reply@mindweave.dev',
      to: ['ada@example.com'],
      subject: 'Hello <there>',
      text: 'Plain part',
      html: '<p>HTML part</p>',
    });
    expect(await readFile(join(dir, `${message!.id}.eml`), 'utf8')).toContain('Subject: Hello <there>');

    const page = await (await fetch(sink.uiUrl)).text();
    expect(page).toContain('Hello &#60;there&#62;');
    expect(page).toContain(`/messages/${message!.id}`);
    const detail = await (await fetch(new URL(`/messages/${message!.id}`, sink.uiUrl))).text();
    expect(detail).toContain('Plain part');
    expect((await fetch(new URL('/api/messages', sink.uiUrl))).headers.get('content-type')).toBe('application/json');
  });
});
