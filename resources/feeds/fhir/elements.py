"""Readers for FHIR data types inside a resource: codings, references, periods and participants."""

from __future__ import annotations

SYSTEMS = {
    "http://snomed.info/sct": "SNOMED",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM",
    "http://loinc.org": "LOINC",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://terminology.hl7.org/CodeSystem/v3-ActCode": "ACTCODE",
    "https://nahdo.org/sopt": "SOPT",
    "urn:oid:2.16.840.1.113883.3.221.5": "SOPT",
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set": "POS",
    "https://bluebutton.cms.gov/resources/variables/line_place_of_srvc_cd": "POS",
}


def _system(uri: str | None) -> str | None:
    return SYSTEMS.get(uri, uri) if uri else None


def _coding(concept: dict | None, prefer: tuple[str, ...] = ()) -> tuple[str | None, str | None, str | None]:
    """(system, code, display) of a CodeableConcept, taking a coding already in a preferred system when there is one."""
    concept = concept or {}
    codings = concept.get("coding") or [{}]
    chosen = next((c for c in codings if _system(c.get("system")) in prefer), codings[0])
    return _system(chosen.get("system")), chosen.get("code"), chosen.get("display") or concept.get("text")


def _code(concept: dict | None) -> str | None:
    return _coding(concept)[1]


def _ref_id(reference: dict | None) -> str | None:
    """`Patient/abc`, `urn:uuid:abc` or `#abc` -> `abc`."""
    text = (reference or {}).get("reference") or ""
    return text.rsplit("/", 1)[-1].removeprefix("urn:uuid:").removeprefix("#") or None


def _first(items: list | None) -> dict:
    return (items or [{}])[0]


def _when(resource: dict, *names: str) -> str | None:
    """The first present dateTime among `names`, reading a Period's start."""
    for name in names:
        value = resource.get(name)
        if value:
            return value.get("start") if isinstance(value, dict) else value
    return None


def _npi(participants: list | None) -> str | None:
    """The first participant NPI, given as an identifier or inside a conditional reference (`...us-npi|123`)."""
    for participant in participants or []:
        actor = participant.get("individual") or participant.get("actor") or participant.get("provider") or {}
        identifier = actor.get("identifier") or {}
        if "us-npi" in (identifier.get("system") or ""):
            return identifier.get("value")
        if "us-npi|" in (actor.get("reference") or ""):
            return actor["reference"].rsplit("|", 1)[1]
    return None
