import { useEffect, useState, type FormEvent } from 'react';
import { ExportJobDocument, RequestExportDocument, type ExportJobFieldsFragment } from '@mindweave/sdk';
import { client } from '../api.ts';
import type { Scope } from '../app.tsx';
import { describeError, type Problem } from '../errors.ts';
import { formatBytes, formatDate, formatDateTime, formatInteger } from '../format.ts';
import { useAction } from '../hooks.ts';
import { Empty, Panel, ProblemMessage, SubmitButton, Table } from '../ui.tsx';

const pollMs = 1_000;
const kept = 20;
const statusNames: Record<ExportJobFieldsFragment['status'], string> = {
  QUEUED: 'Waiting',
  RUNNING: 'Writing',
  SUCCEEDED: 'Ready',
  FAILED: 'Failed',
};
const finished = (job: ExportJobFieldsFragment) => job.status === 'SUCCEEDED' || job.status === 'FAILED';
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/**
 * There is no query that lists an organization's exports, so the page remembers the ones asked for
 * here (their ids, in localStorage) and asks for each one's status until it is finished.
 */
function useRememberedExports(organizationId: string) {
  const key = `mindweave.exports.${organizationId}`;
  const [jobs, setJobs] = useState<ExportJobFieldsFragment[]>([]);
  const [problem, setProblem] = useState<Problem>();

  useEffect(() => {
    const ids = JSON.parse(window.localStorage.getItem(key) ?? '[]') as string[];
    Promise.all(ids.map((id) => client.request(ExportJobDocument, { id }).then((r) => r.exportJob))).then(
      // Deleted after EXPORTS_RETENTION_DAYS: exportJob answers null.
      (loaded) => setJobs(loaded.filter((job): job is ExportJobFieldsFragment => !!job)),
      (error: unknown) => setProblem(describeError(error, { action: 'see exports' })),
    );
  }, [key]);

  useEffect(() => {
    window.localStorage.setItem(key, JSON.stringify(jobs.map((job) => job.id)));
    const pending = jobs.filter((job) => !finished(job));
    if (!pending.length) return undefined;
    const timer = setTimeout(async () => {
      try {
        const updated = await Promise.all(pending.map((job) => client.request(ExportJobDocument, { id: job.id }).then((r) => r.exportJob)));
        setProblem(undefined);
        setJobs((current) => current.map((job) => updated.find((u) => u?.id === job.id) ?? job));
      } catch (error) {
        setProblem(describeError(error, { action: 'follow exports' }));
        setJobs((current) => [...current]);
      }
    }, pollMs);
    return () => clearTimeout(timer);
  }, [jobs, key]);

  return { jobs, problem, add: (job: ExportJobFieldsFragment) => setJobs((current) => [job, ...current].slice(0, kept)) };
}

export function ExportsPage({ scope }: { scope: Scope }) {
  const organizationId = scope.organization.id;
  const exports = useRememberedExports(organizationId);
  const request = useAction(
    (input: { type: 'USAGE' | 'AUDIT'; format: 'CSV' | 'JSON'; from: string; to: string }) =>
      client.request(RequestExportDocument, { input: { organizationId, ...input } }),
    {
      action: 'request exports',
      role: scope.role,
    },
  );

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const from = new Date(`${String(data.get('from'))}T00:00:00Z`);
    // The whole last day: up to the next midnight (UTC).
    const to = new Date(Date.parse(`${String(data.get('to'))}T00:00:00Z`) + 86_400_000);
    const result = await request.run({
      type: data.get('type') === 'AUDIT' ? 'AUDIT' : 'USAGE',
      format: data.get('format') === 'JSON' ? 'JSON' : 'CSV',
      from: from.toISOString(),
      to: to.toISOString(),
    });
    if (result) exports.add(result.requestExport);
  }

  return (
    <div className="exports">
      <Panel title="New export">
        <form className="inline-form" onSubmit={submit}>
          <label>
            Data
            <select name="type" defaultValue="USAGE">
              <option value="USAGE">Usage events</option>
              <option value="AUDIT">Policy audit log</option>
            </select>
          </label>
          <label>
            Format
            <select name="format" defaultValue="CSV">
              <option value="CSV">CSV</option>
              <option value="JSON">JSON</option>
            </select>
          </label>
          <label>
            From (UTC)
            <input name="from" type="date" required defaultValue={day(-7)} />
          </label>
          <label>
            To (UTC, included)
            <input name="to" type="date" required defaultValue={day(0)} />
          </label>
          <SubmitButton pending={request.pending} pendingText="Requesting…">
            Request export
          </SubmitButton>
        </form>
        <ProblemMessage problem={request.problem} />
      </Panel>

      <Panel title="Your exports">
        <ProblemMessage problem={exports.problem} />
        {exports.jobs.length === 0 ? (
          <Empty>Exports you request here are listed until they are deleted, 7 days after they finish.</Empty>
        ) : null}
        {exports.jobs.length ? (
          <Table columns={['Requested', 'Data', 'Period', 'Status', 'Rows', 'Size', { hidden: 'Download' }]}>
            {exports.jobs.map((job) => (
              <tr key={job.id}>
                <th scope="row">{formatDateTime(job.createdAt)}</th>
                <td>
                  {job.type === 'USAGE' ? 'Usage events' : 'Policy audit log'}, {job.format}
                </td>
                <td>
                  {formatDate(job.from)} – {formatDate(new Date(Date.parse(job.to) - 1).toISOString())}
                </td>
                <td>
                  <span className={`tag ${job.status === 'SUCCEEDED' ? 'ok' : job.status === 'FAILED' ? 'danger' : 'warn'}`} role="status">
                    {statusNames[job.status]}
                  </span>
                  {job.error ? <span className="muted"> {job.error}</span> : null}
                </td>
                <td>{formatInteger(job.rowsWritten)}</td>
                <td>{job.status === 'SUCCEEDED' ? formatBytes(job.bytes) : ''}</td>
                <td>
                  {job.downloadUrl ? (
                    <a href={job.downloadUrl} download>
                      Download<span className="visually-hidden"> the export requested {formatDateTime(job.createdAt)}</span>
                    </a>
                  ) : null}
                </td>
              </tr>
            ))}
          </Table>
        ) : null}
      </Panel>
    </div>
  );
}
