"""The bulk issuance file and its rows (DESIGN §6): encoding, header, rows, per-row validation and the error
report. Plain functions, no database: ``registry issue-batch`` validates rows in worker processes, and a worker
imports only this much of the registry.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, NamedTuple

from registry import errors
from registry.licence_types import FieldValue, LicenseType, validate_holder
from registry.licenses.drafts import Draft, parse_time, validity_window
from signing.jcs import canonicalize

HOLDER_COLUMNS = ("holder_id_type", "holder_id_number", "holder_name")
VALIDITY_COLUMNS = ("valid_from", "valid_until")
REPORT_COLUMNS = ("line", "holder_id_number", "code", "message")
KEY_PREFIX = "batch:"
MAX_REPORT_MESSAGE = 1000
_INTEGER = re.compile(r"[+-]?[0-9]{1,16}")
_EXCEL_NUMBER = re.compile(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"


class Failure(NamedTuple):
    """A row that cannot be issued, as the error report shows it. (A named tuple: rows cross process
    boundaries, and these pickle ~20× faster than dataclasses.)"""

    line: int
    holder_id_number: str
    code: str
    message: str


# --- the file: encoding, header, rows -------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Where each column of the header sits. A template field that shares a holder column's name (结婚证's
    ``holder_name``) is fed by that one column: the template requires the two to be equal anyway."""

    count: int
    id_type: int
    id_number: int
    name: int
    fields: tuple[tuple[str, int], ...]
    valid_from: int | None
    valid_until: int | None


def read_header(lt: LicenseType, cells: Sequence[str]) -> Columns:
    """The header's columns, or :class:`~registry.errors.BatchBadHeader` naming every wrong or missing one."""
    names = [c.strip().lower() for c in cells]
    if names:
        names[0] = names[0].lstrip("\ufeff")
    field_names = [f.name for f in lt.fields]
    allowed = list(dict.fromkeys([*HOLDER_COLUMNS, *field_names, *VALIDITY_COLUMNS]))
    required = list(dict.fromkeys([*HOLDER_COLUMNS, *(f.name for f in lt.fields if f.required)]))
    counts = Counter(names)
    unknown = [n[:80] for n in counts if n not in allowed][:10]
    duplicate = [n for n, times in counts.items() if times > 1 and n in allowed]
    missing = [n for n in required if n not in names]
    problems_cn: list[str] = []
    problems_en: list[str] = []
    if "" in unknown:
        empty = ", ".join(str(i + 1) for i, n in enumerate(names) if not n)
        problems_cn.append(f"第 {empty} 列没有列名")
        problems_en.append(f"column {empty} has no name")
        unknown.remove("")
    if unknown:
        shown = ", ".join(repr(n) for n in unknown)
        problems_cn.append(f"未知的列 {shown}")
        problems_en.append(f"unknown column(s) {shown}")
    if duplicate:
        problems_cn.append(f"重复的列 {', '.join(duplicate)}")
        problems_en.append(f"duplicate column(s) {', '.join(duplicate)}")
    if missing:
        problems_cn.append(f"缺少必需的列 {', '.join(missing)}")
        problems_en.append(f"missing required column(s) {', '.join(missing)}")
    if problems_cn:
        raise errors.BatchBadHeader(
            f"表头有误：{'；'.join(problems_cn)}。「{lt.name}」的列为：{', '.join(allowed)} / "
            f"Bad header: {'; '.join(problems_en)}. The columns of {lt.name_en} are: {', '.join(allowed)}",
            license_type=lt.type,
            unknown_columns=unknown,
            duplicate_columns=duplicate,
            missing_columns=missing,
            allowed_columns=allowed,
        )
    index = {n: i for i, n in enumerate(names)}
    return Columns(
        count=len(names),
        id_type=index["holder_id_type"],
        id_number=index["holder_id_number"],
        name=index["holder_name"],
        fields=tuple((n, index[n]) for n in field_names if n in index),
        valid_from=index.get("valid_from"),
        valid_until=index.get("valid_until"),
    )


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, its cells); blank lines and rows of blank cells are left out."""
    line = 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if "".join(cells).strip():
            yield start, cells


@dataclass(frozen=True)
class CsvSource:
    """A checked CSV file of one licence type: its encoding, header and number of rows are known."""

    name: str
    license_type: LicenseType
    encoding: str  # "utf-8-sig" or "gb18030"
    total: int  # data rows
    columns: Columns
    _open: Callable[[], BinaryIO] = field(repr=False)

    @classmethod
    def from_path(cls, path: Path, lt: LicenseType) -> CsvSource:
        def opener() -> BinaryIO:
            try:
                return path.open("rb")
            except OSError as exc:
                raise errors.BatchFileUnreadable(
                    f"无法读取文件 {path.name} / Cannot read {path.name}: {exc.strerror or exc}"
                ) from exc

        return cls._scan(path.name, lt, opener)

    @classmethod
    def from_bytes(cls, data: bytes, name: str, lt: LicenseType) -> CsvSource:
        """Blocking (it reads the whole upload once): call it in a worker thread from the event loop."""
        return cls._scan(name, lt, lambda: io.BytesIO(data))

    @classmethod
    def _scan(cls, name: str, lt: LicenseType, opener: Callable[[], BinaryIO]) -> CsvSource:
        with opener() as raw:
            head = raw.read(4)
        if not head:
            raise errors.BatchFileUnreadable("文件为空 / The file is empty")
        if head in (_ZIP_MAGIC, _OLE_MAGIC):
            raise errors.BatchFileUnreadable(
                "这是 Excel 工作簿，请另存为「CSV UTF-8（逗号分隔）」后上传 / "
                "This is an Excel workbook; save it as CSV UTF-8 (comma delimited) and upload that"
            )
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                with opener() as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
                    reader = csv.reader(text)
                    records = _records(reader)
                    first = next(records, None)
                    if first is None:
                        raise errors.BatchBadHeader("文件没有表头 / The file has no header row")
                    columns = read_header(lt, first[1])
                    total = sum(1 for _ in records)
            except UnicodeDecodeError:
                continue
            except csv.Error as exc:
                raise errors.BatchFileUnreadable(
                    f"第 {reader.line_num} 行不是合法的 CSV / Line {reader.line_num} is not valid CSV: {exc}"
                ) from exc
            return cls(name, lt, encoding, total, columns, opener)
        raise errors.BatchFileUnreadable(
            "文件编码无法识别，应为 UTF-8 或 GB18030 / The file is neither UTF-8 nor GB18030 text"
        )

    @contextmanager
    def rows(self) -> Iterator[Iterator[tuple[int, list[str]]]]:
        """The data rows as (line, cells), streamed from the file."""
        with self._open() as raw, io.TextIOWrapper(raw, encoding=self.encoding, newline="") as text:
            records = _records(csv.reader(text))
            next(records, None)  # the header, checked by the scan
            yield records


# --- one row: plain functions, no database and no event loop (issue #7 may run them in a process pool) ------


@dataclass(frozen=True)
class PreparedRow:
    """A validated row: what to sign, and the key that says whether it was issued already."""

    line: int
    holder_id_number: str
    digest: str  # SHA-256 hex of the canonical row
    draft: Draft

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.digest


def _cell_value(lt: LicenseType, name: str, text: str) -> str | int:
    """CSV cells are text; integer fields take the number they spell (anything else fails validation)."""
    if lt.field(name).type == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    return text


def row_digest(
    lt: LicenseType,
    holder_id_type: str,
    holder_id_number: str,
    holder_name: str,
    fields: dict[str, FieldValue],
    valid_from: str | None,
    valid_until: str | None,
) -> str:
    """The row's identity: validated values only, and the validity *as given* (not today's default), so the
    same file run again tomorrow still finds its rows."""
    canonical = {
        "type": lt.type,
        "holder": {"id_type": holder_id_type, "id_number": holder_id_number, "name": holder_name},
        "fields": fields,
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    return hashlib.sha256(canonicalize(canonical)).hexdigest()


def prepare_row(lt: LicenseType, columns: Columns, line: int, cells: Sequence[str], now: datetime) -> PreparedRow:
    """Validate one row as ``POST /api/v1/licenses`` validates a body; raise its :class:`RegistryError`."""
    if len(cells) != columns.count:
        raise errors.ValidationFailed(
            f"此行有 {len(cells)} 列，表头有 {columns.count} 列（值中含逗号时须加英文双引号） / "
            f"This row has {len(cells)} cells, the header {columns.count} "
            "(quote values that contain commas)"
        )
    cells = [c.strip() for c in cells]
    holder = validate_holder(cells[columns.id_type], cells[columns.id_number], cells[columns.name], lt.holder_id_types)
    raw = {name: _cell_value(lt, name, cells[i]) for name, i in columns.fields}
    fields = lt.validate_fields(raw, holder)
    from_text = cells[columns.valid_from] if columns.valid_from is not None else ""
    until_text = cells[columns.valid_until] if columns.valid_until is not None else ""
    valid_from, valid_until = validity_window(lt, from_text or None, until_text or None, now)
    digest = row_digest(
        lt,
        holder.id_type,
        holder.id_number,
        holder.name,
        fields,
        parse_time(from_text, "valid_from").isoformat() if from_text else None,
        parse_time(until_text, "valid_until").isoformat() if until_text else None,
    )
    return PreparedRow(line, holder.id_number, digest, Draft(lt, holder, fields, valid_from, valid_until))


# --- the error report ----------------------------------------------------------------------------------


def _spreadsheet_safe(text: str) -> str:
    """A cell Excel will not run as a formula (the report is opened in Excel)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def error_message(error: errors.RegistryError, holder_id_number: str = "") -> str:
    """One line for the report: every field problem of an invalid row, not just their count."""
    items = error.extra.get("errors")
    if isinstance(items, list) and items:
        message = "; ".join(f"{e.get('field', '')}: {e.get('message', '')}" for e in items if isinstance(e, dict))
    else:
        message = error.detail
    if error.code == "invalid_holder_id" and _EXCEL_NUMBER.fullmatch(holder_id_number):
        message += (
            "（Excel 把证件号码变成了科学计数法，请将该列设为「文本」后重新导出 / Excel turned the ID number into "
            "scientific notation: format the column as Text and export again）"
        )
    return message.replace("\r", " ").replace("\n", " ")[:MAX_REPORT_MESSAGE]


class ErrorReport:
    """CSV ``line,holder_id_number,code,message``, one row per failed line. Written to a file (created at the
    first failed row, UTF-8 with a BOM so that Excel shows the Chinese) or to an open text stream."""

    def __init__(self, target: Path | IO[str]) -> None:
        self.target = target
        self.count = 0
        self.path: Path | None = None
        self._file: IO[str] | None = None
        self._writer: Any = None

    def add(self, line: int, holder_id_number: str, error: errors.RegistryError) -> None:
        self.add_failure(Failure(line, holder_id_number, error.code, error_message(error, holder_id_number)))

    def add_failure(self, failure: Failure) -> None:
        if self._writer is None:
            if isinstance(self.target, Path):
                self._file = self.target.open("w", encoding="utf-8-sig", newline="")
                self.path = self.target
                self._writer = csv.writer(self._file)
            else:
                self._writer = csv.writer(self.target)
            self._writer.writerow(REPORT_COLUMNS)
        self._writer.writerow(
            [
                failure.line,
                _spreadsheet_safe(failure.holder_id_number[:64]),
                failure.code,
                _spreadsheet_safe(failure.message),
            ]
        )
        self.count += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
