"""What changed in a PDF after a signature: the signed revision against the final one.

pyHanko's diff policy is both too lax (a shadow "replace" passes as form filling)
and too strict for some real LTV files, so eLocal compares revisions itself, by
value: the page count; each page's dictionary, content and resources, with the
attributes it inherits from its page-tree ancestors; each page's annotations; the
document catalog; the form fields, signature dictionaries included. Equal values
render equally, so a page whose objects compare equal shows the same thing. Only
these changes are allowed after a signature: LTV data (DSS, document timestamps),
signing a signature field that already existed empty (by a later signature), and
adding an invisible signature field. Form filling is allowed only where a
certification signature explicitly permits it.

Resources are never allowed to grow: signed content may already draw a name (an
XObject, a font) that does not exist yet, so defining it later changes what the
page shows. A new *visible* signature widget is refused for the same reason: its
appearance may cover signed content.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.validation import codes

#: Upper bounds that make a hostile PDF end quickly.
MAX_NODES = 200_000
MAX_PAGES = 5_000
MAX_DECODED_STREAM = 64 * 1024 * 1024  # the same bound as ValidationLimits.max_decoded_stream

# Catalog entries compared apart, or that carry no rendered content.
_CATALOG_SEPARATE = {"/Pages", "/AcroForm", "/DSS", "/Extensions", "/Metadata", "/Version", "/Type"}
_PAGE_SEPARATE = {"/Annots", "/Parent"}
#: Page attributes a page takes from its nearest /Pages ancestor when it lacks them.
_INHERITABLE = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
_ANNOT_IGNORE = {"/P", "/Parent"}
_SIG_WIDGET_SIGNING = {"/V", "/AP", "/AS", "/M", "/Lock", "/SV", "/F"}
#: Annotation flags that keep a widget from being drawn (Hidden, NoView).
_HIDDEN_FLAGS = 2 | 32
_STREAM_IGNORE = {"/Length", "/Filter", "/DecodeParms"}


class DiffLimit(Exception):
    """The comparison needed more work than a legitimate document does."""


@dataclass
class Findings:
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def error(self, code: str, detail: str) -> None:
        if (code, detail) not in self.errors:
            self.errors.append((code, detail))

    def warn(self, code: str, detail: str) -> None:
        if (code, detail) not in self.warnings:
            self.warnings.append((code, detail))


def compare_revisions(
    reader: PdfFileReader,
    signed_revision: int,
    *,
    later_signature_fields: set[str],
    form_filling_allowed: bool,
) -> Findings:
    """Compare ``signed_revision`` with the final revision of ``reader``."""
    findings = Findings()
    try:
        _Comparer(
            reader, signed_revision, later_signature_fields, form_filling_allowed, findings
        ).run()
    except DiffLimit as exc:
        findings.error(codes.DIFF_LIMIT, str(exc))
    except (
        RecursionError,
        generic.PdfError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
    ) as exc:
        findings.error(codes.DIFF_LIMIT, f"revisions could not be compared: {type(exc).__name__}")
    return findings


def _deref(obj: Any) -> Any:
    while isinstance(obj, generic.IndirectObject):
        obj = obj.get_object()
    return obj


class _Comparer:
    def __init__(
        self,
        reader: PdfFileReader,
        revision: int,
        later_sig_fields: set[str],
        form_filling_allowed: bool,
        findings: Findings,
    ) -> None:
        self.reader = reader
        self.revision = revision
        self.old = reader.get_historical_resolver(revision)
        self.later_sig_fields = later_sig_fields
        self.form_filling_allowed = form_filling_allowed
        self.f = findings
        self.nodes = 0
        # Objects (re)written or freed after the signed revision: everything else is
        # byte-for-byte the object that was signed.
        self.changed: set[tuple[int, int]] = set()
        for rev in range(revision + 1, reader.xrefs.total_revisions):
            for ref in reader.xrefs.explicit_refs_in_revision(
                rev
            ) | reader.xrefs.refs_freed_in_revision(rev):
                self.changed.add((ref.idnum, ref.generation))
        self.clean: set[tuple[int, int]] = set()
        self.dirty: set[tuple[int, int]] = set()
        self.in_progress: set[tuple[Any, ...]] = set()
        self.pending: set[tuple[Any, ...]] = set()
        self.known: dict[tuple[Any, ...], bool] = {}
        self.open = 0

    # -- value equality -------------------------------------------------
    def _tick(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise DiffLimit(f"more than {MAX_NODES} objects to compare")

    def eq(
        self, a: Any, b: Any, ignore: frozenset[str] | set[str] = frozenset(), depth: int = 0
    ) -> bool:
        self._tick()
        if depth > 64:
            raise DiffLimit("object graph nested too deeply")
        key = None
        if isinstance(a, generic.IndirectObject) and isinstance(b, generic.IndirectObject):
            if a.reference == b.reference and self._untouched(a):
                return True
            key = (a.idnum, a.generation, b.idnum, b.generation, frozenset(ignore))
            if key in self.known:
                return self.known[key]
            if key in self.pending or key in self.in_progress:
                return True  # assumed equal while being compared (a cycle): see below
            self.in_progress.add(key)
        top = self.open == 0
        self.open += 1
        try:
            result = self._eq_values(_deref(a), _deref(b), ignore, depth)
        finally:
            self.open -= 1
            if key is not None:
                self.in_progress.discard(key)
        if key is not None:
            if result:
                self.pending.add(key)
            else:
                self.known[key] = False  # a difference is always real
        if top:
            # Equalities found under the assumption that pairs still being compared are
            # equal hold exactly when the outermost comparison succeeds (coinduction).
            if result:
                self.known.update(dict.fromkeys(self.pending, True))
            self.pending.clear()
        return result

    def _untouched(self, start: generic.IndirectObject) -> bool:
        """No object reachable from ``start`` (in the signed revision) was changed afterwards.

        A depth-first walk; when it ends without meeting a changed object, every
        object it visited is clean too (their reachable sets are subsets), and when
        it meets one, every object on the path to it is dirty.
        """
        root = (start.idnum, start.generation)
        if root in self.clean:
            return True
        if root in self.dirty or root in self.changed:
            return False
        visited: set[tuple[int, int]] = set()
        stack: list[tuple[tuple[int, int], Any]] = [(root, iter(_refs_in(self._old_object(start))))]
        path = [root]
        visited.add(root)
        while stack:
            _, children = stack[-1]
            nxt = next(children, None)
            if nxt is None:
                stack.pop()
                path.pop()
                continue
            self._tick()
            key = (nxt.idnum, nxt.generation)
            if key in self.changed or key in self.dirty:
                self.dirty.update(path)
                return False
            if key in visited or key in self.clean:
                continue
            visited.add(key)
            path.append(key)
            stack.append((key, iter(_refs_in(self._old_object(nxt)))))
        self.clean.update(visited)
        return True

    def _old_object(self, ref: generic.IndirectObject) -> Any:
        return self.old.get_object(ref.reference)

    def _eq_values(self, a: Any, b: Any, ignore: frozenset[str] | set[str], depth: int) -> bool:
        if isinstance(a, generic.StreamObject) or isinstance(b, generic.StreamObject):
            if not (isinstance(a, generic.StreamObject) and isinstance(b, generic.StreamObject)):
                return False
            return self._dict_eq(
                a, b, _STREAM_IGNORE | set(ignore), depth
            ) and self._stream_data_eq(a, b)
        if isinstance(a, generic.DictionaryObject):
            if a.get("/Type") == "/Page":
                # Pages are compared one by one in their own right (annotations included);
                # a reference to a page (a link, an open action) only needs the same page.
                ignore = set(ignore) | _PAGE_SEPARATE
            return isinstance(b, generic.DictionaryObject) and self._dict_eq(a, b, ignore, depth)
        if isinstance(a, generic.ArrayObject):
            return (
                isinstance(b, generic.ArrayObject)
                and len(a) == len(b)
                and all(self.eq(x, y, depth=depth + 1) for x, y in zip(a, b, strict=True))
            )
        if type(a) is not type(b) and not (
            isinstance(a, generic.NumberObject | generic.FloatObject)
            and isinstance(b, generic.NumberObject | generic.FloatObject)
        ):
            return False
        return bool(a == b)

    def _dict_eq(
        self,
        a: generic.DictionaryObject,
        b: generic.DictionaryObject,
        ignore: frozenset[str] | set[str],
        depth: int,
    ) -> bool:
        ka = {k for k in a if k not in ignore}
        kb = {k for k in b if k not in ignore}
        if ka != kb:
            return False
        return all(self.eq(a.raw_get(k), b.raw_get(k), depth=depth + 1) for k in sorted(ka))

    def _stream_data_eq(self, a: generic.StreamObject, b: generic.StreamObject) -> bool:
        same_filters = a.get("/Filter") == b.get("/Filter") and a.get("/DecodeParms") == b.get(
            "/DecodeParms"
        )
        if same_filters and a.encoded_data == b.encoded_data:
            return True
        decoded_a, decoded_b = _bounded_decode(a), _bounded_decode(b)
        return decoded_a is not None and decoded_a == decoded_b

    # -- the comparison -------------------------------------------------
    def run(self) -> None:
        old_root = self.old.root
        new_root = self.reader.root
        self._catalog(old_root, new_root)
        old_pages = self._pages(old_root)
        new_pages = self._pages(new_root)
        if len(new_pages) > len(old_pages):
            self.f.error(
                codes.PAGES_ADDED,
                f"{len(new_pages) - len(old_pages)} page(s) added after signing "
                f"(pages {len(old_pages) + 1}..{len(new_pages)})",
            )
        elif len(new_pages) < len(old_pages):
            self.f.error(
                codes.PAGES_REMOVED,
                f"{len(old_pages) - len(new_pages)} page(s) removed after signing",
            )
        for number, ((old_page, old_inh), (new_page, new_inh)) in enumerate(
            zip(old_pages, new_pages, strict=False), start=1
        ):
            self._page(number, old_page, new_page, old_inh, new_inh)
        self._form(old_root, new_root)

    def _catalog(self, old_root: Any, new_root: Any) -> None:
        old_keys = {k for k in old_root if k not in _CATALOG_SEPARATE}
        new_keys = {k for k in new_root if k not in _CATALOG_SEPARATE}
        for key in sorted(old_keys | new_keys):
            if (
                key not in old_keys
                or key not in new_keys
                or not self.eq(old_root.raw_get(key), new_root.raw_get(key))
            ):
                self.f.error(
                    codes.CATALOG_CHANGED, f"document catalog entry {key} changed after signing"
                )
        if "/Metadata" in new_root and (
            "/Metadata" not in old_root
            or not self.eq(old_root.raw_get("/Metadata"), new_root.raw_get("/Metadata"))
        ):
            self.f.warn(codes.METADATA_CHANGED, "XMP metadata changed after signing")
        if "/DSS" in new_root and (
            "/DSS" not in old_root
            or not self.eq(old_root.raw_get("/DSS"), new_root.raw_get("/DSS"))
        ):
            self.f.warn(codes.LTV_UPDATE, "validation data (DSS) added after signing")

    def _pages(self, root: Any) -> list[tuple[Any, dict[str, Any]]]:
        """Leaf pages in order, each with the inheritable attributes its ancestors give it."""
        pages: list[tuple[Any, dict[str, Any]]] = []
        seen: set[int] = set()
        stack: list[tuple[Any, dict[str, Any]]] = [(root.raw_get("/Pages"), {})]
        while stack:
            node_ref, inherited = stack.pop()
            self._tick()
            if isinstance(node_ref, generic.IndirectObject):
                if node_ref.idnum in seen:
                    raise DiffLimit("page tree has a cycle")
                seen.add(node_ref.idnum)
            node = _deref(node_ref)
            if not isinstance(node, generic.DictionaryObject):
                raise DiffLimit("page tree node is not a dictionary")
            if node.get("/Type") == "/Pages" or "/Kids" in node:
                passed = dict(inherited)
                passed.update({k: node.raw_get(k) for k in _INHERITABLE if k in node})
                kids = _deref(node.raw_get("/Kids"))
                stack.extend((kid, passed) for kid in reversed(list(kids)))
            else:
                pages.append((node_ref, inherited))
                if len(pages) > MAX_PAGES:
                    raise DiffLimit(f"more than {MAX_PAGES} pages")
        return pages

    def _page(
        self,
        number: int,
        old_ref: Any,
        new_ref: Any,
        old_inherited: dict[str, Any],
        new_inherited: dict[str, Any],
    ) -> None:
        old_page, new_page = _deref(old_ref), _deref(new_ref)
        own = _PAGE_SEPARATE | set(_INHERITABLE)
        if not self._dict_eq(old_page, new_page, own, 0):
            self.f.error(
                codes.PAGE_CONTENT_CHANGED, f"page {number}: content changed after signing"
            )
        for key in _INHERITABLE:
            old_value = _effective(old_page, old_inherited, key)
            new_value = _effective(new_page, new_inherited, key)
            if (old_value is None) != (new_value is None) or (
                old_value is not None and not self.eq(old_value, new_value)
            ):
                # Signed content may already draw names defined only later, and a
                # box or rotation decides what of the page is shown at all.
                self.f.error(
                    codes.PAGE_CONTENT_CHANGED,
                    f"page {number}: {key} (own or inherited) changed after signing",
                )
        self._annotations(number, old_page, new_page)

    def _annotations(self, number: int, old_page: Any, new_page: Any) -> None:
        old_annots = list(_deref(old_page.raw_get("/Annots"))) if "/Annots" in old_page else []
        new_annots = list(_deref(new_page.raw_get("/Annots"))) if "/Annots" in new_page else []
        if len(old_annots) + len(new_annots) > 10_000:
            raise DiffLimit("too many annotations")
        unmatched_old = list(old_annots)
        for new_a in new_annots:
            match = next((o for o in unmatched_old if self.eq(o, new_a, _ANNOT_IGNORE)), None)
            if match is not None:
                unmatched_old.remove(match)
                continue
            same_ref = next(
                (
                    o
                    for o in unmatched_old
                    if isinstance(o, generic.IndirectObject)
                    and isinstance(new_a, generic.IndirectObject)
                    and o.reference == new_a.reference
                ),
                None,
            )
            annot = _deref(new_a)
            if same_ref is not None:
                unmatched_old.remove(same_ref)
                self._changed_annotation(number, _deref(same_ref), annot)
            else:
                self._added_annotation(number, annot)
        for old_a in unmatched_old:
            self.f.error(
                codes.ANNOTATION_REMOVED,
                f"page {number}: a {_subtype(_deref(old_a))} annotation was removed",
            )

    def _changed_annotation(self, number: int, old: Any, new: Any) -> None:
        name = _field_name(new)
        if _is_sig_widget(new):
            old_value = _field_value(old)
            if (
                old_value is None
                and name in self.later_sig_fields
                and self.eq(old, new, _ANNOT_IGNORE | _SIG_WIDGET_SIGNING)
            ):
                return  # an existing, empty signature field signed by a later signature
            self.f.error(
                codes.ANNOTATION_CHANGED,
                f"page {number}: signature field {name!r} changed after signing",
            )
            return
        if _is_widget(new) and self.eq(old, new, _ANNOT_IGNORE | {"/V", "/AP", "/AS", "/M"}):
            if self.form_filling_allowed:
                self.f.warn(
                    codes.FORM_FILLED,
                    f"page {number}: field {name!r} filled (permitted by certification)",
                )
            else:
                self.f.error(
                    codes.FORM_FILLED, f"page {number}: field {name!r} filled after signing"
                )
            return
        self.f.error(
            codes.ANNOTATION_CHANGED,
            f"page {number}: a {_subtype(new)} annotation changed after signing",
        )

    def _added_annotation(self, number: int, annot: Any) -> None:
        # A new signature widget is fine only when it draws nothing: a visible one,
        # signed or not, may cover the signed content with its appearance.
        if _is_sig_widget(annot):
            name = _field_name(annot)
            if _invisible(annot) and (name in self.later_sig_fields or _field_value(annot) is None):
                self.f.warn(
                    codes.NEW_SIGNATURE_FIELD,
                    f"page {number}: signature field {name!r} added after signing",
                )
                return
        self.f.error(
            codes.ANNOTATION_ADDED,
            f"page {number}: a {_subtype(annot)} annotation was added after signing",
        )

    def _signature_field(self, name: str, old: Any, new: Any) -> None:
        """A signature field and its signature dictionary, as they were when signed.

        A signed field must stay exactly as it was (its /V is the signature
        dictionary, whose /Reference carries the DocMDP permissions); an empty one may
        only receive the entries that a later signature filling it writes.
        """
        ignore = _ANNOT_IGNORE | {"/Kids", "/V"}
        old_value, new_value = _field_value(old), _field_value(new)
        if old_value is not None:
            if (
                new_value is None
                or not self.eq(old, new, ignore)
                or not self._sig_dict_eq(old_value, new_value)
            ):
                self.f.error(
                    codes.ANNOTATION_CHANGED,
                    f"signature field {name!r} or its signature dictionary changed after signing",
                )
            return
        if self.eq(old, new, ignore):
            if new_value is None or name in self.later_sig_fields:
                return
        elif name in self.later_sig_fields and self.eq(old, new, ignore | _SIG_WIDGET_SIGNING):
            return
        self.f.error(codes.ANNOTATION_CHANGED, f"signature field {name!r} changed after signing")

    def _sig_dict_eq(self, old_ref: Any, new_ref: Any) -> bool:
        """Signature dictionaries compared by value, except a FieldMDP /Data entry.

        /Data points at the document catalog, which legitimately changes with every
        later signature; it must still point at the same object.
        """
        old, new = _deref(old_ref), _deref(new_ref)
        if not (
            isinstance(old, generic.DictionaryObject) and isinstance(new, generic.DictionaryObject)
        ):
            return bool(self.eq(old_ref, new_ref))
        if not self._dict_eq(old, new, {"/Reference"}, 0):
            return False
        if ("/Reference" in old) != ("/Reference" in new):
            return False
        if "/Reference" not in old:
            return True
        old_refs, new_refs = _deref(old.raw_get("/Reference")), _deref(new.raw_get("/Reference"))
        if not (
            isinstance(old_refs, generic.ArrayObject)
            and isinstance(new_refs, generic.ArrayObject)
            and len(old_refs) == len(new_refs)
        ):
            return False
        for a_ref, b_ref in zip(old_refs, new_refs, strict=True):
            a, b = _deref(a_ref), _deref(b_ref)
            if not (
                isinstance(a, generic.DictionaryObject) and isinstance(b, generic.DictionaryObject)
            ):
                return False
            if not self._dict_eq(a, b, {"/Data"}, 0) or not _same_target(
                a.raw_get("/Data") if "/Data" in a else None,
                b.raw_get("/Data") if "/Data" in b else None,
            ):
                return False
        return True

    def _form(self, old_root: Any, new_root: Any) -> None:
        old_fields = _fields(old_root)
        new_fields = _fields(new_root)
        for name, new_f in new_fields.items():
            old_f = old_fields.get(name)
            is_sig = _deref(new_f).get("/FT") == "/Sig"
            if old_f is None:
                if not is_sig:
                    self.f.error(codes.FIELD_ADDED, f"form field {name!r} added after signing")
                continue
            if is_sig:
                self._signature_field(name, _deref(old_f), _deref(new_f))
                continue
            ignore = _ANNOT_IGNORE | {"/Kids"}
            if not self.eq(old_f, new_f, ignore):
                if self.eq(old_f, new_f, ignore | {"/V", "/AP", "/AS", "/M"}):
                    if self.form_filling_allowed:
                        self.f.warn(
                            codes.FORM_FILLED, f"field {name!r} filled (permitted by certification)"
                        )
                    else:
                        self.f.error(codes.FORM_FILLED, f"field {name!r} filled after signing")
                else:
                    self.f.error(
                        codes.ANNOTATION_CHANGED, f"form field {name!r} changed after signing"
                    )
        for name in old_fields:
            if name not in new_fields:
                self.f.error(codes.ANNOTATION_REMOVED, f"form field {name!r} removed after signing")
        old_form = _deref(old_root.raw_get("/AcroForm")) if "/AcroForm" in old_root else None
        new_form = _deref(new_root.raw_get("/AcroForm")) if "/AcroForm" in new_root else None
        if old_form is not None and new_form is not None:
            if old_form.get("/NeedAppearances") != new_form.get("/NeedAppearances"):
                self.f.error(
                    codes.FORM_FILLED, "form appearance regeneration switched after signing"
                )
            for key in ("/XFA", "/CO"):
                if (key in old_form) != (key in new_form) or (
                    key in new_form and not self.eq(old_form.raw_get(key), new_form.raw_get(key))
                ):
                    self.f.error(codes.CATALOG_CHANGED, f"form entry {key} changed after signing")
        elif old_form is not None and new_form is None:
            self.f.error(codes.ANNOTATION_REMOVED, "the form was removed after signing")


def _refs_in(obj: Any) -> list[generic.IndirectObject]:
    """The references an object holds directly (not through other references)."""
    out: list[generic.IndirectObject] = []
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, generic.IndirectObject):
            out.append(item)
        elif isinstance(item, generic.DictionaryObject):  # streams included
            stack.extend(item.raw_get(k) for k in item)
        elif isinstance(item, generic.ArrayObject):
            stack.extend(item.raw_get(i) for i in range(len(item)))
    return out


def _subtype(annot: Any) -> str:
    return str(annot.get("/Subtype", "annotation"))


def _fields(root: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "/AcroForm" not in root:
        return out
    form = _deref(root.raw_get("/AcroForm"))
    if "/Fields" not in form:
        return out
    stack: list[tuple[str, Any]] = [
        ("", f) for f in reversed(list(_deref(form.raw_get("/Fields"))))
    ]
    seen: set[int] = set()
    while stack:
        prefix, ref = stack.pop()
        if isinstance(ref, generic.IndirectObject):
            if ref.idnum in seen:
                continue
            seen.add(ref.idnum)
        if len(seen) > 20_000:
            raise DiffLimit("too many form fields")
        node = _deref(ref)
        if not isinstance(node, generic.DictionaryObject):
            continue
        partial = node.get("/T")
        name = (
            f"{prefix}.{partial}"
            if prefix and partial is not None
            else str(partial if partial is not None else prefix)
        )
        if partial is not None:
            out[name] = ref
        if "/Kids" in node:
            stack.extend((name, k) for k in reversed(list(_deref(node.raw_get("/Kids")))))
    return out


def _field_name(annot: Any) -> str:
    parts = []
    node = annot
    for _ in range(32):
        if "/T" in node:
            parts.append(str(node["/T"]))
        if "/Parent" not in node:
            break
        node = _deref(node.raw_get("/Parent"))
    return ".".join(reversed(parts))


def _inherited(annot: Any, key: str) -> Any:
    node = annot
    for _ in range(32):
        if key in node:
            return _deref(node.raw_get(key))
        if "/Parent" not in node:
            return None
        node = _deref(node.raw_get("/Parent"))
    return None


def _is_widget(annot: Any) -> bool:
    return bool(annot.get("/Subtype") == "/Widget")


def _is_sig_widget(annot: Any) -> bool:
    return _is_widget(annot) and _inherited(annot, "/FT") == "/Sig"


def _field_value(annot: Any) -> Any:
    """The field's value; an explicit null counts as none, an empty dictionary does not."""
    value = _inherited(annot, "/V")
    return None if isinstance(value, generic.NullObject) else value


def _effective(page: Any, inherited: dict[str, Any], key: str) -> Any:
    """A page attribute as a viewer applies it: the page's own, else its ancestors'."""
    return page.raw_get(key) if key in page else inherited.get(key)


def _same_target(a: Any, b: Any) -> bool:
    if isinstance(a, generic.IndirectObject) and isinstance(b, generic.IndirectObject):
        return bool(a.reference == b.reference)
    return a is None and b is None


def _invisible(annot: Any) -> bool:
    """A widget that draws nothing: zero area, or flagged Hidden or NoView."""
    rect = _deref(annot.get("/Rect")) if "/Rect" in annot else None
    try:
        x1, y1, x2, y2 = (float(v) for v in rect)  # type: ignore[union-attr]
        flags = int(annot.get("/F", 0))
    except (TypeError, ValueError):
        return False
    return (abs(x2 - x1) < 1e-6 or abs(y2 - y1) < 1e-6) or bool(flags & _HIDDEN_FLAGS)


def _bounded_decode(stream: generic.StreamObject) -> bytes | None:
    """Decoded stream bytes, refusing decompression bombs; None when we won't decode."""
    filters = stream.get("/Filter")
    names = (
        [str(f) for f in (_deref(filters) if isinstance(_deref(filters), list) else [filters])]
        if filters
        else []
    )
    data = stream.encoded_data
    if not names:
        return bytes(data)
    if names == ["/FlateDecode"] and "/DecodeParms" not in stream:
        d = zlib.decompressobj()
        try:
            out = d.decompress(data, MAX_DECODED_STREAM)
        except zlib.error:
            return None
        if d.unconsumed_tail:
            raise DiffLimit(f"a stream decompresses to more than {MAX_DECODED_STREAM} bytes")
        return out
    return None
