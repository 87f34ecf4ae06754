"""An XLSX import file's rows, read by openpyxl only once the file has shown it is bounded (members.imports.files
says why and lists every bound of an import file).

- The zip directory, read before openpyxl opens the file: what the parts unpack to (MAX_XLSX_UNPACKED_BYTES in all)
  and how much a large part is compressed (MAX_XLSX_RATIO). The sizes come from the directory, and zipfile never
  unpacks more of a part than it declares (it fails the CRC check instead), so they bound what openpyxl can read.
- The XML, streamed through expat before openpyxl parses it, because openpyxl builds the whole tree of a row, of a
  shared string and of every part it does not stream before anything could count it: no DTD (entities expand),
  MAX_XML_GROUP_ELEMENTS in one row or shared string, MAX_XML_ELEMENTS otherwise kept from a part,
  MAX_SHARED_STRINGS, and bounded attributes, depth and text between two tags.
"""

import io
import zipfile
from collections.abc import Callable, Iterator
from xml.parsers import expat

import openpyxl
from django.utils.translation import gettext as _

from ..errors import ImportFileError

MAX_XLSX_PARTS = 1_000
MAX_XLSX_UNPACKED_BYTES = 256 * 1024 * 1024  # 200,000 order rows with items, as openpyxl writes them: 110 MB
MAX_XLSX_RATIO = 100  # spreadsheets measured here compress 4 to 13 times; deflate can reach 1,000
RATIO_FROM_BYTES = 1024 * 1024  # smaller parts may be compressed any amount: they cannot hurt
MAX_SHARED_STRINGS = 1_000_000  # about 160 bytes each once read; 200,000 rows with 3 texts of their own need 600,000
MAX_XML_ELEMENTS = 250_000  # kept from one part, outside its rows and shared strings (a styles part: a few thousand)
MAX_XML_GROUP_ELEMENTS = 50_000  # in one row or shared string (a full row of 16,384 cells with values: 32,768)
MAX_XML_ATTRIBUTES = 64
MAX_XML_DEPTH = 64
MAX_XML_TEXT_BYTES = 1024 * 1024  # between two tags: a cell's text or an attribute
XML_BLOCK_BYTES = 1024 * 1024
# What openpyxl reads one at a time, and then clears, in the parts whose root is the key: all else it keeps.
XML_GROUPS = {"worksheet": "row", "sst": "si"}


def _not_xlsx() -> ImportFileError:
    return ImportFileError(_("The file is not a readable XLSX workbook: save it again from Excel as .xlsx, or as CSV."))


def _not_as_excel_writes() -> ImportFileError:
    return ImportFileError(
        _("The workbook is not built as spreadsheet programs build them: save it again from Excel as .xlsx, or as CSV.")
    )


def open_archive(handle) -> zipfile.ZipFile:
    """Raises ImportFileError."""
    try:
        return zipfile.ZipFile(handle)
    except Exception:  # zipfile raises its own, OS, value and EOF errors alike for a damaged or foreign file
        raise _not_xlsx() from None


def archive_check(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook whose parts would unpack to too much, from the zip directory alone. Raises
    ImportFileError."""
    parts = archive.infolist()
    if len(parts) > MAX_XLSX_PARTS:
        raise _not_as_excel_writes()
    if sum(part.file_size for part in parts) > MAX_XLSX_UNPACKED_BYTES:
        raise ImportFileError(
            _("The workbook unpacks to more than %(limit)s MB: split it into smaller files, or save it as CSV.")
            % {"limit": MAX_XLSX_UNPACKED_BYTES // (1024 * 1024)}
        )
    for part in parts:
        if part.file_size > RATIO_FROM_BYTES and part.file_size > MAX_XLSX_RATIO * max(part.compress_size, 1):
            raise ImportFileError(
                _(
                    "The workbook is compressed more than %(limit)s times, which spreadsheets never are: save it "
                    "again from Excel as .xlsx, or as CSV."
                )
                % {"limit": MAX_XLSX_RATIO}
            )


class _XmlBounds:
    """Expat handlers that count what openpyxl would hold of one part, and refuse it beyond the bounds."""

    def __init__(self, parser):
        self.parser = parser
        self.group = None  # the element openpyxl reads one at a time in this part, known from the root
        self.depth = self.group_depth = 0
        self.kept = self.in_group = self.groups = 0
        self.last_byte = 0

    def start(self, name: str, attributes: dict) -> None:
        self._gap()
        local = name.rpartition(":")[2]  # without namespace processing, "x:row" is a row too
        self.depth += 1
        if self.depth == 1:
            self.group = XML_GROUPS.get(local)
        if self.depth > MAX_XML_DEPTH or len(attributes) > MAX_XML_ATTRIBUTES:
            raise _not_as_excel_writes()
        if self.group_depth:
            self.in_group += 1
            if self.in_group > MAX_XML_GROUP_ELEMENTS:
                raise _not_as_excel_writes()
        elif local == self.group:
            self.group_depth, self.in_group = self.depth, 1
            self.groups += 1
            if self.group == "si" and self.groups > MAX_SHARED_STRINGS:
                raise ImportFileError(
                    _("The workbook holds more than %(limit)s different texts: split it into smaller files.")
                    % {"limit": f"{MAX_SHARED_STRINGS:,}"}
                )
        else:
            self.kept += 1
            if self.kept > MAX_XML_ELEMENTS:
                raise _not_as_excel_writes()

    def end(self, _name: str) -> None:
        self._gap()
        if self.depth == self.group_depth:
            self.group_depth = 0
        self.depth -= 1

    def _gap(self) -> None:
        """Bound the text or attributes since the previous tag. Expat hands a long text over in pieces, which
        would cost a call each to count."""
        at = self.parser.CurrentByteIndex
        if at - self.last_byte > MAX_XML_TEXT_BYTES:
            raise _not_as_excel_writes()
        self.last_byte = at


def _refuse_dtd(*_args) -> None:
    raise _not_as_excel_writes()  # no spreadsheet has one, and its entities could expand a few bytes to gigabytes


def _xml_check(archive: zipfile.ZipFile, check_time: Callable[[], None]) -> None:
    for part in archive.infolist():
        if not part.filename.lower().endswith((".xml", ".rels")):
            continue  # images and other binary parts, which openpyxl does not read in read-only mode
        parser = expat.ParserCreate()
        bounds = _XmlBounds(parser)
        parser.StartElementHandler, parser.EndElementHandler = bounds.start, bounds.end
        parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = _refuse_dtd
        with archive.open(part) as source:
            while block := source.read(XML_BLOCK_BYTES):
                check_time()
                parser.Parse(block, False)
            parser.Parse(b"", True)


def xlsx_rows(data: bytes, *, max_columns: int, check_time: Callable[[], None]) -> Iterator[tuple]:
    """The first sheet's rows, each as a tuple of `max_columns` values, blank rows included. `check_time` raises
    ImportFileError once reading has taken too long. Raises ImportFileError."""
    with open_archive(io.BytesIO(data)) as archive:
        archive_check(archive)
        try:
            _xml_check(archive, check_time)
        except ImportFileError:
            raise
        except Exception:  # malformed XML, an unsupported compression or encryption, a part that fails its CRC
            raise _not_xlsx() from None
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises zip, XML and key errors alike for a damaged or foreign file
        raise _not_xlsx() from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some producers record wrong dimensions; read what is there
        # max_col: however wide the sheet, each row is one tuple of that many values (every blank row the same one)
        yield from sheet.iter_rows(values_only=True, max_col=max_columns)
    except ImportFileError:
        raise
    except Exception:
        raise _not_xlsx() from None
    finally:
        workbook.close()
