import { type KeyboardEvent, useId, useRef, useState } from 'react';
import { displayName, type Person } from './api.ts';

/** The `@name` being typed just before the caret, if any. */
const MENTION_BEFORE_CARET = /(?:^|[^\p{L}\p{N}_.@+-])@([\p{L}\p{N}_.+-]*)$/u;
const MAX_SUGGESTIONS = 6;

interface Typing {
  /** Where the `@` is. */
  at: number;
  query: string;
}

function typingAt(text: string, caret: number): Typing | undefined {
  const match = MENTION_BEFORE_CARET.exec(text.slice(0, caret));
  if (match === null) return undefined;
  const query = match[1] ?? '';
  return { at: caret - query.length - 1, query };
}

const matches = (person: Person, query: string) => {
  const needle = query.toLowerCase();
  return [person.username, person.first_name, person.last_name].some((word) => word.toLowerCase().startsWith(needle));
};

/**
 * A textarea that suggests people while an `@name` is typed (a combobox: ↑ ↓ choose, Enter or Tab
 * takes one, Escape closes the list), and writes `@username`, which the server makes a mention.
 */
export function MentionTextarea({
  id,
  value,
  onChange,
  people,
  onSubmit,
  describedBy,
  disabled,
}: {
  id: string;
  value: string;
  onChange: (value: string) => void;
  people: Person[];
  /** Ctrl+Enter or ⌘+Enter. */
  onSubmit: () => void;
  describedBy?: string;
  disabled?: boolean;
}) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const listId = useId();
  const [typing, setTyping] = useState<Typing | undefined>();
  const [active, setActive] = useState(0);
  const suggestions =
    typing === undefined ? [] : people.filter((person) => matches(person, typing.query)).slice(0, MAX_SUGGESTIONS);
  const open = suggestions.length > 0;
  const chosen = suggestions[Math.min(active, suggestions.length - 1)];

  const follow = (text: string, caret: number) => {
    const next = typingAt(text, caret);
    if (next?.at !== typing?.at || next?.query !== typing?.query) setActive(0);
    setTyping(next);
  };

  const pick = (person: Person) => {
    if (typing === undefined) return;
    const end = typing.at + 1 + typing.query.length;
    const inserted = `@${person.username} `;
    const text = value.slice(0, typing.at) + inserted + value.slice(end);
    onChange(text);
    setTyping(undefined);
    const caret = typing.at + inserted.length;
    requestAnimationFrame(() => ref.current?.setSelectionRange(caret, caret));
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      onSubmit();
      return;
    }
    if (!open || chosen === undefined) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive((current) => (current + step + suggestions.length) % suggestions.length);
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      pick(chosen);
    } else if (event.key === 'Escape') {
      // closes the list, not the dialog around it
      event.preventDefault();
      event.stopPropagation();
      setTyping(undefined);
    }
  };

  const optionId = (person: Person) => `${listId}-${person.id}`;
  return (
    <div className="mention-input">
      <textarea
        ref={ref}
        id={id}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={listId}
        aria-activedescendant={open && chosen !== undefined ? optionId(chosen) : undefined}
        aria-describedby={describedBy}
        rows={3}
        maxLength={10_000}
        value={value}
        disabled={disabled}
        onChange={(event) => {
          onChange(event.target.value);
          follow(event.target.value, event.target.selectionStart);
        }}
        onSelect={(event) => follow(event.currentTarget.value, event.currentTarget.selectionStart)}
        onKeyDown={onKeyDown}
        onBlur={() => setTyping(undefined)}
      />
      <div id={listId} role="listbox" aria-label="People to mention" className="mentions" hidden={!open}>
        {suggestions.map((person) => (
          <div
            key={person.id}
            id={optionId(person)}
            role="option"
            tabIndex={-1}
            aria-selected={person === chosen}
            // before the textarea's blur, which would close the list
            onMouseDown={(event) => {
              event.preventDefault();
              pick(person);
            }}
          >
            <b>@{person.username}</b> {displayName(person)}
          </div>
        ))}
      </div>
    </div>
  );
}
