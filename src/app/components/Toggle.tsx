import { useId } from 'react';

/** A small segmented control: a radio group, keyboard accessible (arrow keys move within it). */
export function Toggle<T extends string>({ label, value, options, onChange }: { label: string; value: T; options: readonly T[]; onChange: (v: T) => void }) {
  const id = useId();
  return (
    <span className="toggle" role="radiogroup" aria-label={label}>
      {options.map((o) => (
        <label key={o} className={o === value ? 'on' : ''}>
          <input type="radio" checked={o === value} onChange={() => onChange(o)} name={id} />
          {o}
        </label>
      ))}
    </span>
  );
}
