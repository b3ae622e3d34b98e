import type { NotificationKind, TaskPriority, TaskStatus } from '../platform/db/schema.ts';
import type { TaskFacts } from '../tasks/reads.ts';

export interface EmailContext {
  kind: NotificationKind;
  recipientName: string;
  /** Who made the change, when a person did. */
  actorName: string | null;
  companyName: string;
  /** The task the email is about; a digest is about several. */
  task: TaskFacts | null;
  /** A digest's open tasks, overdue ones included. */
  tasks: TaskFacts[];
  publicUrl: string;
  now: Date;
  /** How many comments an email about comments stands for (several folded into one). */
  comments?: number;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const STATUS_LABELS: Record<TaskStatus, string> = { todo: 'To do', in_progress: 'In progress', done: 'Done' };
const PRIORITY_LABELS: Record<TaskPriority, string> = { low: 'Low', medium: 'Medium', high: 'High', urgent: 'Urgent' };

const escapeHtml = (value: string) =>
  value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** A subject is one header line: user text must not break it, and long titles are cut. */
function oneLine(value: string, max = 120): string {
  const flat = value.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const formatDate = (date: Date) => `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export const taskLink = (publicUrl: string, taskId: number) => `${publicUrl}/tasks/${taskId}`;

const isOverdue = (task: TaskFacts, now: Date) => task.dueDate !== null && task.dueDate < now && task.status !== 'done';

/** Known before rendering, so a pending record already shows what its email will be called. */
export function subjectFor(kind: NotificationKind, title: string, day?: string): string {
  switch (kind) {
    case 'assigned':
      return oneLine(`Assigned to you: ${title}`);
    case 'status_changed':
      return oneLine(`Status changed: ${title}`);
    case 'unblocked':
      return oneLine(`Ready to start: ${title}`);
    case 'due_soon':
      return oneLine(`Due soon: ${title}`);
    case 'digest':
      return `Your tasks for ${day ?? ''}`.trim();
    case 'mentioned':
      return oneLine(`You were mentioned: ${title}`);
    case 'commented':
      return oneLine(`New comments: ${title}`);
  }
}

const plural = (n: number) => (n === 1 ? 'a new comment' : `${n} new comments`);
const folded = (context: EmailContext) =>
  (context.comments ?? 1) > 1 ? `, among ${plural(context.comments ?? 1)}` : '';

function headline(context: EmailContext): string {
  const { kind, actorName, task } = context;
  const by = actorName === null ? '' : ` by ${actorName}`;
  switch (kind) {
    case 'assigned':
      return `You were assigned a task${by}.`;
    case 'status_changed':
      return `A task's status was changed${by} to ${STATUS_LABELS[task?.status ?? 'todo']}.`;
    case 'unblocked':
      return `A task assigned to you waits for nothing any more: the last task blocking it was finished or deleted${by}.`;
    case 'due_soon':
      return `A task assigned to you is due ${task?.dueDate ? `on ${formatDate(task.dueDate)}` : 'soon'}.`;
    case 'digest':
      return 'Your open tasks today:';
    case 'mentioned':
      return `You were mentioned in a comment on a task${by}${folded(context)}.`;
    case 'commented':
      return `A task you watch has ${plural(context.comments ?? 1)}${actorName === null ? '' : `, the latest by ${actorName}`}.`;
  }
}

function factsText(task: TaskFacts, context: EmailContext): string {
  return [
    `${task.title}${isOverdue(task, context.now) ? ' (overdue)' : ''}`,
    `  Status: ${STATUS_LABELS[task.status]}`,
    `  Priority: ${PRIORITY_LABELS[task.priority]}`,
    `  Due: ${task.dueDate === null ? 'no due date' : formatDate(task.dueDate)}`,
    `  ${taskLink(context.publicUrl, task.id)}`,
  ].join('\n');
}

function factsHtml(task: TaskFacts, context: EmailContext): string {
  const link = escapeHtml(taskLink(context.publicUrl, task.id));
  const overdue = isOverdue(task, context.now) ? ' <strong style="color:#b42318">(overdue)</strong>' : '';
  return `<table role="presentation" style="border-collapse:collapse;margin:12px 0">
<tr><td colspan="2" style="font-size:16px;font-weight:600;padding-bottom:4px"><a href="${link}">${escapeHtml(task.title)}</a>${overdue}</td></tr>
<tr><td style="color:#555;padding-right:12px">Status</td><td>${STATUS_LABELS[task.status]}</td></tr>
<tr><td style="color:#555;padding-right:12px">Priority</td><td>${PRIORITY_LABELS[task.priority]}</td></tr>
<tr><td style="color:#555;padding-right:12px">Due</td><td>${task.dueDate === null ? 'no due date' : formatDate(task.dueDate)}</td></tr>
</table>`;
}

/**
 * The text and HTML bodies of one email. Every piece of user text (titles, names) is escaped in
 * the HTML; the text version is plain by nature.
 */
export function renderEmail(context: EmailContext, subject: string): RenderedEmail {
  const items = context.kind === 'digest' ? context.tasks : context.task === null ? [] : [context.task];
  const overdue = context.kind === 'digest' ? items.filter((t) => isOverdue(t, context.now)).length : 0;
  const summary = context.kind === 'digest' ? `${items.length} open task(s), ${overdue} overdue.` : headline(context);
  const greeting = `Hello ${context.recipientName},`;
  const footer = `You get this email from ${context.companyName} on Tasks. Choose which emails you get in Settings: ${context.publicUrl}/settings`;
  const text = [greeting, '', summary, '', ...items.map((t) => factsText(t, context)), '', '--', footer].join('\n');
  const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2939;line-height:1.45">
<p>${escapeHtml(greeting)}</p>
<p>${escapeHtml(summary)}</p>
${items.map((t) => factsHtml(t, context)).join('\n')}
<hr style="border:none;border-top:1px solid #eaecf0">
<p style="color:#667085;font-size:12px">You get this email from ${escapeHtml(context.companyName)} on Tasks. <a href="${escapeHtml(`${context.publicUrl}/settings`)}">Choose which emails you get</a>.</p>
</body></html>`;
  return { subject, text, html };
}
