import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { Problem } from './errors.ts';

/** A problem as a person reads it; announced by screen readers as it appears. */
export function ProblemMessage({ problem, onRetry }: { problem: Problem | undefined; onRetry?: () => void }) {
  if (!problem) return null;
  return (
    <div className="problem" role="alert">
      <p className="problem-title">{problem.title}</p>
      {problem.detail && problem.detail !== problem.title ? <p className="problem-detail">{problem.detail}</p> : null}
      {problem.requestId ? (
        <p className="problem-detail">
          Request id: <code>{problem.requestId}</code>
        </p>
      ) : null}
      {onRetry && problem.retryable ? (
        <button type="button" className="secondary" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/**
 * A modal dialog on the native <dialog> element, which keeps the focus inside, closes on Escape
 * and gives the focus back to what opened it.
 */
export function Dialog({ title, children, onClose }: { title: string; children: ReactNode; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    // Unmounting removes it from the page, which closes it.
    if (ref.current && !ref.current.open) ref.current.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onClose={onClose}>
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** A titled box of the page; its title names the region for screen readers. */
export function Panel({
  title,
  actions,
  className,
  children,
}: {
  title: ReactNode;
  actions?: ReactNode;
  className?: string;
  children: ReactNode;
}) {
  const titleId = useId();
  return (
    <section className={className ? `panel ${className}` : 'panel'} aria-labelledby={titleId}>
      <div className="panel-head">
        <h2 id={titleId}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** A table with a header row; an empty column title is read out as `hidden` (e.g. "Actions"). */
export function Table({ columns, children }: { columns: readonly (string | { hidden: string })[]; children: ReactNode }) {
  return (
    <table>
      <thead>
        <tr>
          {columns.map((column) => (
            <th scope="col" key={typeof column === 'string' ? column : column.hidden}>
              {typeof column === 'string' ? column : <span className="visually-hidden">{column.hidden}</span>}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

export function SubmitButton({ pending, children, pendingText }: { pending: boolean; children: ReactNode; pendingText: string }) {
  return (
    <button type="submit" disabled={pending}>
      {pending ? pendingText : children}
    </button>
  );
}

/** Asks before something that cannot be undone. */
export function ConfirmDialog({
  title,
  confirm,
  onConfirm,
  onClose,
  children,
}: {
  title: string;
  confirm: string;
  onConfirm: () => void;
  onClose: () => void;
  children: ReactNode;
}) {
  return (
    <Dialog title={title} onClose={onClose}>
      {children}
      <div className="buttons">
        <button type="button" className="secondary" onClick={onClose}>
          Keep it
        </button>
        <button
          type="button"
          className="danger"
          onClick={() => {
            onClose();
            onConfirm();
          }}
        >
          {confirm}
        </button>
      </div>
    </Dialog>
  );
}

/** A secret the server shows once (an API key, a signing secret), with a way to copy it. */
export function SecretDialog({
  title,
  secret,
  onClose,
  children,
}: {
  title: string;
  secret: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <Dialog title={title} onClose={onClose}>
      <p>
        <strong>Copy it now: this is the only time it is shown.</strong> {children}
      </p>
      <p>
        <code className="secret" data-testid="secret">
          {secret}
        </code>
      </p>
      <div className="buttons">
        <button
          type="button"
          className="secondary"
          onClick={() =>
            navigator.clipboard.writeText(secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" onClick={onClose}>
          I have stored it
        </button>
      </div>
    </Dialog>
  );
}

/** Loads the next page of a cursor-paginated list (usePages). */
export function MoreButton({ pages, what }: { pages: { hasMore: boolean; loadingMore: boolean; loadMore: () => void }; what: string }) {
  if (!pages.hasMore) return null;
  return (
    <button type="button" className="secondary" onClick={pages.loadMore} disabled={pages.loadingMore}>
      {pages.loadingMore ? 'Loading…' : `Show older ${what}`}
    </button>
  );
}
