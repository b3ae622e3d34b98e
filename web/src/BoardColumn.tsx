import { type DragEvent, type KeyboardEvent, type ReactNode, useLayoutEffect, useRef, useState } from 'react';
import { displayName, type Label, type Person, type Task, type WorkflowStatus } from './api.ts';
import { dateTime } from './format.ts';
import { CommentIcon, PaperclipIcon } from './icons.tsx';
import { PRIORITY_LABELS, STATUS_LABELS } from './labels.ts';
import { blockedByText } from './relations.ts';
import { SubtaskProgress } from './TaskRelations.tsx';

/**
 * Cards have one height (titles are cut after two lines; the dialog shows them whole), so a
 * column of thousands can render only the cards in view: each one's place is its index times the
 * row height, and nothing has to be measured.
 */
export const CARD_HEIGHT = 104;
const CARD_GAP = 8;
const ROW = CARD_HEIGHT + CARD_GAP;
/** Cards rendered beyond each edge of the view, so scrolling and Tab never meet an empty space. */
const OVERSCAN = 4;

const isOverdue = (task: Task, now: number) =>
  task.status !== 'done' && task.due_date !== null && Date.parse(task.due_date) < now;

export interface ColumnProps {
  status: WorkflowStatus;
  tasks: Task[];
  usersById: Map<number, Person>;
  labelsById: Map<number, Label>;
  /** An archived project, or a viewer: cards open, but do not move. */
  readOnly: boolean;
  flashing: Set<number>;
  /** A blocked task's blockers that are not done, as far as the board knows them. */
  blockersOf: (task: Task) => Task[];
  /** The card that takes Tab in this column (roving tabindex); the first one in view when none. */
  activeId: number | undefined;
  /** Cards that stay rendered wherever the column is scrolled: the focused one, the dragged one. */
  pinned: number[];
  dropTarget: boolean;
  now: number;
  onOpen: (task: Task) => void;
  onCardKey: (event: KeyboardEvent, task: Task, index: number, visibleRows: number) => void;
  onCardFocus: (task: Task) => void;
  onDragStart: (task: Task) => void;
  onDragEnd: () => void;
  onDragOver: () => void;
  onDragLeave: () => void;
  onDrop: (event: DragEvent) => void;
}

function rangeFor(scroller: HTMLElement | null) {
  const top = scroller?.scrollTop ?? 0;
  const height = scroller?.clientHeight || window.innerHeight;
  return {
    /** The first card (mostly) in view: the column's tab stop when none was chosen. */
    top: Math.round(top / ROW),
    first: Math.max(0, Math.floor(top / ROW) - OVERSCAN),
    last: Math.ceil((top + height) / ROW) + OVERSCAN,
    rows: Math.max(1, Math.floor(height / ROW)),
  };
}

type Range = ReturnType<typeof rangeFor>;
const sameRange = (a: Range, b: Range) =>
  a.top === b.top && a.first === b.first && a.last === b.last && a.rows === b.rows;

export function BoardColumn(props: ColumnProps) {
  const { status, tasks, activeId, pinned } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [range, setRange] = useState(() => rangeFor(null));

  // Re-rendered only when the rows in view change, not on every scroll event.
  const update = () => {
    const next = rangeFor(scroller.current);
    setRange((current) => (sameRange(current, next) ? current : next));
  };
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element === null) return;
    const observer = new ResizeObserver(() => {
      const next = rangeFor(element);
      setRange((current) => (sameRange(current, next) ? current : next));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const last = Math.min(tasks.length, range.last);
  const indices = new Set<number>();
  for (let index = range.first; index < last; index++) indices.add(index);
  const tabStop = tasks.some((task) => task.id === activeId)
    ? activeId
    : tasks[Math.min(range.top, tasks.length - 1)]?.id;
  for (const id of [...pinned, tabStop]) {
    const index = id === undefined ? -1 : tasks.findIndex((task) => task.id === id);
    if (index >= 0) indices.add(index);
  }
  const rendered = [...indices].sort((a, b) => a - b);

  const category = STATUS_LABELS[status.category];
  const headingId = `column-${status.id}`;
  const droppable = props.readOnly
    ? {}
    : {
        onDragOver: (event: DragEvent) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'move';
          props.onDragOver();
        },
        onDragLeave: (event: DragEvent) => {
          if (!event.currentTarget.contains(event.relatedTarget as Node | null)) props.onDragLeave();
        },
        onDrop: props.onDrop,
      };
  return (
    <section
      className={`column category-${status.category}${props.dropTarget ? ' drop' : ''}`}
      aria-labelledby={headingId}
      data-status={status.category}
      data-state={status.id}
      style={{ borderTopColor: status.color }}
      {...droppable}
    >
      <h2 id={headingId}>
        <span className="status-dot" style={{ background: status.color }} aria-hidden="true" />
        {status.name}
        {/* The category, when the name does not say it: a custom "Review" reads as in progress. */}
        {status.name.toLowerCase() === category.toLowerCase() ? null : <span className="category-tag">{category}</span>}{' '}
        <span className="count">{tasks.length}</span>
      </h2>
      <div className="cards" ref={scroller} onScroll={update}>
        {/* Absolutely placed cards in a list as tall as all of them: the scrollbar tells the truth. */}
        <ul style={{ height: Math.max(0, tasks.length * ROW - CARD_GAP) }}>
          {rendered.map((index) => {
            const task = tasks[index] as Task;
            const assignee = task.assigned_to === null ? undefined : props.usersById.get(task.assigned_to);
            const overdue = isOverdue(task, props.now);
            // Shown on hover and while the card has focus, and read with its title by screen readers.
            const blockersId = `blockers-${task.id}`;
            return (
              <li
                key={task.id}
                className={`card priority-${task.priority}${props.flashing.has(task.id) ? ' flash' : ''}`}
                style={{ top: index * ROW, height: CARD_HEIGHT }}
                aria-setsize={tasks.length}
                aria-posinset={index + 1}
                data-task-id={task.id}
                data-ref={task.ref}
                draggable={!props.readOnly}
                onDragStart={(event) => {
                  event.dataTransfer.setData('text/plain', String(task.id));
                  event.dataTransfer.effectAllowed = 'move';
                  props.onDragStart(task);
                }}
                onDragEnd={props.onDragEnd}
              >
                <button
                  type="button"
                  className="card-title"
                  aria-describedby={task.is_blocked ? `${blockersId} card-help` : 'card-help'}
                  tabIndex={task.id === tabStop ? 0 : -1}
                  onClick={() => props.onOpen(task)}
                  onFocus={() => props.onCardFocus(task)}
                  onKeyDown={(event) => props.onCardKey(event, task, index, range.rows)}
                >
                  <span className="clamp">{task.title}</span>
                </button>
                <div className="card-tags">
                  {task.is_blocked ? <span className="blocked-marker">Blocked</span> : null}
                  {task.subtasks.total === 0 ? null : (
                    <span className="subtasks">
                      <SubtaskProgress done={task.subtasks.done} total={task.subtasks.total} />
                      <span aria-hidden="true">
                        {task.subtasks.done}/{task.subtasks.total}
                      </span>
                    </span>
                  )}
                  <CardCount count={task.comment_count} icon={<CommentIcon />} one="comment" many="comments" />
                  <CardCount
                    count={task.attachment_count}
                    icon={<PaperclipIcon />}
                    one="attachment"
                    many="attachments"
                  />
                  <LabelChips ids={task.labels} labelsById={props.labelsById} />
                </div>
                <div className="meta">
                  <span className="ref">{task.ref}</span>
                  <span className={`priority ${task.priority}`}>{PRIORITY_LABELS[task.priority]}</span>
                  {task.due_date === null ? null : (
                    <span className={`due${overdue ? ' overdue' : ''}`}>
                      {overdue ? 'Overdue · ' : 'Due '}
                      <time dateTime={task.due_date}>{dateTime(task.due_date)}</time>
                    </span>
                  )}
                  <span className="assignee">
                    {task.assigned_to === null
                      ? 'Unassigned'
                      : assignee === undefined
                        ? 'Someone'
                        : displayName(assignee)}
                  </span>
                </div>
                {task.is_blocked ? (
                  <span role="tooltip" id={blockersId} className="blockers-tip">
                    {blockedByText(props.blockersOf(task))}
                  </span>
                ) : null}
              </li>
            );
          })}
        </ul>
      </div>
    </section>
  );
}

/** A count with its icon on a card, read as "3 comments"; nothing for none. */
function CardCount({ count, icon, one, many }: { count: number; icon: ReactNode; one: string; many: string }) {
  if (count === 0) return null;
  return (
    <span className={`card-count ${many}`}>
      <span aria-hidden="true">
        {icon} {count}
      </span>
      <span className="visually-hidden">
        {count} {count === 1 ? one : many}
      </span>
    </span>
  );
}

/** A card's labels as coloured chips; a label deleted meanwhile is left out. */
export function LabelChips({ ids, labelsById }: { ids: number[]; labelsById: Map<number, Label> }) {
  const labels = ids.flatMap((id) => labelsById.get(id) ?? []);
  if (labels.length === 0) return <span className="chips" />;
  return (
    <ul className="chips" aria-label="Labels">
      {labels.map((label) => (
        <li key={label.id} className="chip" style={{ borderColor: label.color }}>
          <span className="chip-dot" style={{ background: label.color }} aria-hidden="true" />
          {label.name}
        </li>
      ))}
    </ul>
  );
}
