"""Hardened XML parsing for documents that come from outside.

Every XML byte eLocal reads (documents to seal, signatures to validate, registry
interchange files) goes through ``parse_xml``. It refuses DTDs outright (which
rules out entity expansion, billion-laughs and XXE at once), never touches the
network, and enforces explicit limits on size and nesting depth, so hostile input
ends quickly with a meaningful error instead of exhausting the process.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from infra.errors import InvalidInput, PayloadTooLarge


@dataclass(frozen=True)
class XmlLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_depth: int = 128
    max_elements: int = 2_000_000


DEFAULT_LIMITS = XmlLimits()


class XmlRejected(InvalidInput):
    code = "xml_rejected"
    title = "XML document rejected"


class XmlDtdForbidden(XmlRejected):
    code = "xml_dtd_forbidden"
    title = "XML with a DTD or entity declarations is not accepted"


class XmlTooLarge(PayloadTooLarge):
    code = "xml_too_large"
    title = "XML document exceeds a limit"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        collect_ids=True,
    )


def parse_xml(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> etree._ElementTree:
    """Parse untrusted XML bytes under ``limits``; raises an ``XmlRejected`` subclass."""
    if len(data) > limits.max_bytes:
        raise XmlTooLarge(f"XML larger than {limits.max_bytes} bytes", limit=limits.max_bytes)
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser=_parser()))
    except etree.XMLSyntaxError as exc:
        raise XmlRejected(f"not well-formed XML: {exc.msg}") from None
    except ValueError as exc:
        raise XmlRejected(f"not acceptable XML: {exc}") from None
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise XmlDtdForbidden("the document declares a DTD")
    _check_shape(tree.getroot(), limits)
    return tree


def _check_shape(root: etree._Element, limits: XmlLimits) -> None:
    # Both checks run inside libxml2's XPath engine: a Python walk over every node
    # costs more than signing a large document.
    nodes = int(root.xpath("count(//*)"))
    if nodes > limits.max_elements:
        raise XmlTooLarge(f"XML has more than {limits.max_elements} elements",
                          limit=limits.max_elements)
    if root.xpath("boolean(" + "/*" * (limits.max_depth + 1) + ")"):
        raise XmlTooLarge(f"XML nested deeper than {limits.max_depth} levels",
                          limit=limits.max_depth)


def remove_keeping_tail(element: etree._Element) -> None:
    """Remove ``element`` and its subtree as an XPath node-set filter does.

    The filter drops the element, never the text that follows it, so its tail is
    handed to the preceding sibling (or the parent).
    """
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        prev = element.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)
