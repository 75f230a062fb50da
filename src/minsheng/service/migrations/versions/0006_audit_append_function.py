"""PostgreSQL: ``audit_append``, which appends a batch's audit entries inside the database.

The settlement writer used to read the audit head (``SELECT … FOR UPDATE``: one round trip),
chain the entries in Python, send them (another) and commit (a third); the head stayed locked
over all three, so every other writer waited that long. ``audit_append`` takes the entries'
documents, locks the head, chains them exactly as :func:`minsheng.service.audit.chain_hash`
does — ``sha256(prev_hash || document)`` over the UTF-8 text, in hexadecimal — inserts them and
moves the head, in one statement that goes with the batch's other writes and its ``COMMIT``:
the head is now held only while the database runs the end of that one message.

The documents are built by the caller (the canonical JSON that :func:`minsheng.service.audit.verify`
hashes), so ``minsheng audit verify`` checks these entries like any other. SQLite runs one
writing transaction at a time and keeps the Python path.

Revision ID: 0006
Revises: 0005
Create Date: 2024-01-06
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND = """
CREATE OR REPLACE FUNCTION audit_append(
    ats text[], actors text[], actions text[], entity_types text[], entity_ids text[],
    payloads text[], documents text[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    hashes text[] := '{}';
    prevs text[] := '{}';
    i integer;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(documents, 1), 0) LOOP
        prevs := prevs || head_hash;
        head_hash := encode(sha256(convert_to(head_hash || documents[i], 'UTF8')), 'hex');
        hashes := hashes || head_hash;
    END LOOP;
    INSERT INTO audit_entry (seq, at, actor, action, entity_type, entity_id, payload,
                             prev_hash, hash)
    SELECT head_seq + n, at, actor, action, entity_type, entity_id, payload, prev, hash
    FROM unnest(ats, actors, actions, entity_types, entity_ids, payloads, prevs, hashes)
         WITH ORDINALITY AS e(at, actor, action, entity_type, entity_id, payload, prev, hash, n);
    head_seq := head_seq + coalesce(array_length(documents, 1), 0);
    UPDATE audit_head SET seq = head_seq, hash = head_hash WHERE id = 1;
    RETURN head_seq;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_append(text[], text[], text[], text[], "
                   "text[], text[], text[])")
