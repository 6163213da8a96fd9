"""Static checks of the Frappe app layer; they run without Frappe.

They read the doctype JSON, hooks.py, patches.txt and the controllers as text or
syntax trees (never importing frappe) and apply the rules Frappe v15 itself applies
when it imports a doctype or loads the app, so a mistake fails here, naming the file
and the field, rather than in `bench migrate`.

Every list of Frappe names below is copied from Frappe v15.55.1 (branch version-15 of
github.com/frappe/frappe; the path is given beside each). A few controller smoke tests
at the end run the controllers against a small stand-in for the `frappe` module.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import keyword
import re
import sys
import types
from datetime import datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "meetings_addon"  # the Python package, as Frappe's get_app_path sees it
MODULE = "Meetings Addon"
DOCTYPE_DIR = APP / "meetings_addon" / "doctype"  # <app>/<scrub(module)>/doctype

# --- Frappe v15 definitions ---------------------------------------------------------

# frappe/model/__init__.py: data_fieldtypes
DATA_FIELDTYPES = (
    "Currency", "Int", "Long Int", "Float", "Percent", "Check", "Small Text", "Long Text",
    "Code", "Text Editor", "Markdown Editor", "HTML Editor", "Date", "Datetime", "Time",
    "Text", "Data", "Link", "Dynamic Link", "Password", "Select", "Rating", "Read Only",
    "Attach", "Attach Image", "Signature", "Color", "Barcode", "Geolocation", "Duration",
    "Icon", "Phone", "Autocomplete", "JSON",
)
# frappe/model/__init__.py: no_value_fields
NO_VALUE_FIELDS = (
    "Section Break", "Column Break", "Tab Break", "HTML", "Table", "Table MultiSelect",
    "Button", "Image", "Fold", "Heading",
)
# frappe/model/__init__.py: table_fields
TABLE_FIELDS = ("Table", "Table MultiSelect")
# The fieldtypes a DocField accepts (frappe/core/doctype/docfield/docfield.json, the
# options of `fieldtype`) are exactly data_fieldtypes + no_value_fields.
FIELDTYPES = frozenset(DATA_FIELDTYPES + NO_VALUE_FIELDS)
# frappe/model/__init__.py: data_field_options
DATA_FIELD_OPTIONS = ("Email", "Name", "Phone", "URL", "Barcode")
# frappe/model/__init__.py: default_fields, child_table_fields, optional_fields
DEFAULT_FIELDS = ("doctype", "name", "owner", "creation", "modified", "modified_by", "docstatus", "idx")
CHILD_TABLE_FIELDS = ("parent", "parentfield", "parenttype")
OPTIONAL_FIELDS = ("_user_tags", "_comments", "_assign", "_liked_by", "_seen")
# frappe/core/doctype/doctype/doctype.py: DocType.scrub_field_names, `restricted`
RESTRICTED_FIELDNAMES = (
    "name", "parent", "creation", "owner", "modified", "modified_by", "parentfield",
    "parenttype", "file_list", "flags", "docstatus",
)
# frappe/model/base_document.py: BaseDocument._reserved_keywords
RESERVED_KEYWORDS = (
    "doctype", "meta", "flags", "parent_doc", "_table_fields", "_valid_columns",
    "_doc_before_save", "_table_fieldnames", "_reserved_keywords", "permitted_fieldnames",
    "dont_update_if_missing",
)
# Methods and properties of frappe/model/base_document.py BaseDocument and
# frappe/model/document.py Document: DocType.validate_field_name_conflicts refuses a
# field named like one of them.
DOCUMENT_ATTRIBUTES = frozenset(
    """
    add_comment add_seen add_tag add_viewed append apply_fieldlevel_read_permissions as_dict
    as_json cancel cast check_docstatus_transition check_if_latest check_if_locked
    check_no_back_links_exist check_permission clear_cache copy_attachments_from_amended_from
    db_get db_insert db_set db_update db_update_all deferred_insert delete delete_key docstatus
    extend get get_all_children get_assigned_users get_db_value get_doc_before_save
    get_document_share_key get_field_name_by_key_name get_formatted get_invalid_links
    get_label_from_fieldname get_latest get_liked_by get_onload get_parentfield_of_doctype
    get_password get_permissions get_permlevel_access get_signature get_table_field_doctype
    get_tags get_title get_url get_valid_columns get_valid_dict get_value getone has_permission
    has_permlevel_access_to has_value_changed hook in_format_data init_child_tables
    init_valid_columns insert is_child_table_same is_dummy_password is_locked is_new
    is_print_hide is_whitelisted load_doc_before_save load_from_db lock log_error meta
    notify_update parent_doc permitted_fieldnames precision queue_action raise_no_permission_to
    reload remove remove_tag remove_unpicklable_values rename reset_seen reset_values_if_no_permlevel_access
    round_floats_in run_before_save_methods run_method run_notifications run_post_save_methods
    run_trigger save save_version set set_docstatus set_fetch_from_value set_name_in_children
    set_new_name set_onload set_parent_in_children set_title_field set_user_and_timestamp
    show_unique_validation_message submit throw_length_exceeded_error unlock update
    update_child_table update_children update_if_missing update_modified update_single
    validate_amended_from validate_from_to_dates validate_higher_perm_levels
    validate_set_only_once validate_table_has_rows validate_update_after_submit validate_value
    validate_workflow
    """.split()
)
# The properties of a DocType (frappe/core/doctype/doctype/doctype.json, its fields)
# plus the standard columns an export carries.
DOCTYPE_KEYS = frozenset(
    """
    actions allow_auto_repeat allow_copy allow_events_in_timeline allow_guest_to_view
    allow_import allow_rename autoname beta color custom default_email_template
    default_print_format default_view description document_type documentation editable_grid
    email_append_to engine fields force_re_route_to_default_view form_builder has_web_view
    hide_toolbar icon image_field in_create index_web_pages_for_search is_calendar_and_gantt
    is_published_field is_submittable is_tree is_virtual issingle istable links
    make_attachments_public max_attachments migration_hash module naming_rule nsm_parent_field
    permissions queue_in_background quick_entry read_only restrict_to_domain route
    search_fields sender_field sender_name_field show_name_in_global_search show_preview_popup
    show_title_field_in_link sort_field sort_order states subject_field timeline_field
    title_field track_changes track_seen track_views translated_doctype website_search_field
    """.split()
) | {"doctype", "name", "owner", "creation", "modified", "modified_by", "idx", "docstatus", "field_order"}
# frappe/core/doctype/docfield/docfield.json, its fields
DOCFIELD_KEYS = frozenset(
    """
    allow_bulk_edit allow_in_quick_entry allow_on_submit bold collapsible collapsible_depends_on
    columns default depends_on description documentation_url fetch_from fetch_if_empty
    fieldname fieldtype hidden hide_border hide_days hide_seconds ignore_user_permissions
    ignore_xss_filter in_filter in_global_search in_list_view in_preview in_standard_filter
    is_virtual label length link_filters make_attachment_public mandatory_depends_on max_height
    no_copy non_negative oldfieldname oldfieldtype options permlevel placeholder precision
    print_hide print_hide_if_no_value print_width read_only read_only_depends_on
    remember_last_selected_value report_hide reqd search_index set_only_once show_dashboard
    show_on_timeline sort_options translatable unique width
    """.split()
)
# frappe/core/doctype/docperm/docperm.json, its fields
DOCPERM_KEYS = frozenset(
    "amend cancel create delete email export if_owner import permlevel print read report role "
    "select share submit write".split()
)
# frappe/permissions.py: AUTOMATIC_ROLES, plus System Manager: the roles every plain
# Frappe site has. Frappe CRM's roles (Sales User, Sales Manager) are not used: CRM is optional.
PLAIN_FRAPPE_ROLES = frozenset({"Administrator", "Guest", "All", "Desk User", "System Manager"})
# frappe/core/doctype/doctype/doctype.py: DEPENDS_ON_PATTERN (an assignment in a condition)
# and START_WITH_LETTERS_PATTERN (a valid DocType name)
DEPENDS_ON_PATTERN = re.compile(r'[\w\.:_]+\s*={1}\s*[\w\.@\'"]+')
START_WITH_LETTERS_PATTERN = re.compile(r"^(?![\W])[^\d_\s][\w -]+$", flags=re.ASCII)
# frappe/core/doctype/doctype/doctype.py: validate_fields.check_unique_and_text
UNIQUE_FIELDTYPES = ("Data", "Link", "Read Only", "Int")
NOT_INDEXABLE = ("Text", "Long Text", "Small Text", "Code", "Text Editor")
NUMERIC_FIELDTYPES = ("Currency", "Int", "Long Int", "Float", "Percent", "Check")  # numeric_fieldtypes
DEPENDS_ON_KEYS = ("depends_on", "collapsible_depends_on", "mandatory_depends_on", "read_only_depends_on")

# Doctypes of plain Frappe a field may point to (never CRM's: the app works without it).
CORE_DOCTYPES = frozenset({"User", "Contact", "Event", "DocType", "File", "Role", "Address"})

EXPECTED_DOCTYPES = {
    "Meeting Link",
    "Meeting Link Host",
    "Meeting Link Availability",
    "Meeting Link Date Override",
    "Meeting Link Question",
    "Meeting Link Reminder",
    "Booking",
    "Calendar Connection",
    "Calendar Connection Calendar",
    "Meetings Settings",
}
FIELDNAME = re.compile(r"[a-z_][a-z0-9_]*")
DOTTED_PATH = re.compile(r"meetings_addon(?:\.[A-Za-z_]\w*)+")


def scrub(text: str) -> str:
    """frappe.scrub (frappe/__init__.py): `Sales Order` -> `sales_order`."""
    return text.replace(" ", "_").replace("-", "_").lower()


def class_name(doctype: str) -> str:
    """frappe/model/base_document.py import_controller: the controller class's name."""
    return doctype.replace(" ", "").replace("-", "")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


# --- loading -------------------------------------------------------------------------


def doctype_json_files() -> list[Path]:
    return sorted(DOCTYPE_DIR.glob("*/*.json"))


def load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        pytest.fail(f"{rel(path)}: not valid JSON: {error}")


def all_doctypes() -> dict[str, dict]:
    docs = {}
    for path in doctype_json_files():
        doc = load_json(path)
        if doc.get("doctype") == "DocType":
            docs[doc.get("name")] = doc
    return docs


def fields_of(doc: dict) -> list[dict]:
    return [f for f in doc.get("fields") or [] if isinstance(f, dict)]


def report(problems: list[str]) -> None:
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# --- doctype JSON ----------------------------------------------------------------------


def test_every_expected_doctype_exists():
    found = set(all_doctypes())
    missing = EXPECTED_DOCTYPES - found
    assert not missing, f"doctypes without a JSON under {rel(DOCTYPE_DIR)}: {sorted(missing)}"


def test_every_doctype_folder_holds_its_json():
    problems = []
    for folder in sorted(p for p in DOCTYPE_DIR.iterdir() if p.is_dir() and p.name != "__pycache__"):
        if not (folder / f"{folder.name}.json").exists():
            problems.append(f"{rel(folder)}: no {folder.name}.json")
    report(problems)


@pytest.mark.parametrize("path", doctype_json_files(), ids=lambda p: p.parent.name)
def test_doctype_json_follows_frappe_rules(path: Path):
    doc = load_json(path)
    where = rel(path)
    problems = []

    def problem(message: str) -> None:
        problems.append(f"{where}: {message}")

    name = doc.get("name")
    if doc.get("doctype") != "DocType":
        problem(f'"doctype" is {doc.get("doctype")!r}, expected "DocType"')
    if not isinstance(name, str) or not START_WITH_LETTERS_PATTERN.match(name) or len(name) > 61:
        problem(f"name {name!r} is not a valid DocType name (a letter, then letters, digits, spaces, _ or -; <= 61)")
        report(problems)
    if path.parent.name != scrub(name) or path.stem != scrub(name):
        problem(f"doctype {name!r} must live in {scrub(name)}/{scrub(name)}.json")
    if doc.get("module") != MODULE:
        problem(f'module is {doc.get("module")!r}, expected {MODULE!r}')
    for key in sorted(set(doc) - DOCTYPE_KEYS):
        problem(f"unknown DocType property {key!r}")
    if doc.get("engine") != "InnoDB":
        problem(f'engine is {doc.get("engine")!r}, expected "InnoDB"')
    for stamp in ("creation", "modified"):
        value = doc.get(stamp)
        try:
            datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f" if "." in str(value) else "%Y-%m-%d %H:%M:%S")
        except (TypeError, ValueError):
            problem(f"{stamp} {value!r} is not a 'YYYY-MM-DD HH:MM:SS[.ffffff]' timestamp")

    istable, issingle = bool(doc.get("istable")), bool(doc.get("issingle"))
    if istable and issingle:
        problem("a doctype cannot be both a child table (istable) and a single (issingle)")

    fields = fields_of(doc)
    if not fields:
        problem("has no fields")
    if len(fields) != len(doc.get("fields") or []):
        problem("every entry of fields must be an object")
    fieldnames = [f.get("fieldname") for f in fields]
    by_name = {f.get("fieldname"): f for f in fields}

    duplicates = sorted({n for n in fieldnames if fieldnames.count(n) > 1})
    if duplicates:
        problem(f"fieldnames used more than once: {duplicates}")
    if sorted(map(str, doc.get("field_order") or [])) != sorted(map(str, fieldnames)):
        problem(
            "field_order does not list exactly the fields: "
            f"missing {sorted(set(fieldnames) - set(doc.get('field_order') or []), key=str)}, "
            f"extra {sorted(set(doc.get('field_order') or []) - set(fieldnames), key=str)}"
        )

    not_in_list_view = set(NO_VALUE_FIELDS) | {"Attach Image"}
    if istable:
        not_in_list_view -= {"Button", "HTML"}

    for f in fields:
        fieldname, fieldtype = f.get("fieldname"), f.get("fieldtype")

        def bad(message: str) -> None:
            problem(f"field {fieldname!r}: {message}")

        for key in sorted(set(f) - DOCFIELD_KEYS):
            bad(f"unknown DocField property {key!r}")
        if not isinstance(fieldname, str) or not FIELDNAME.fullmatch(fieldname) or len(fieldname) > 64:
            bad("fieldname must be a lowercase identifier of at most 64 characters")
            continue
        reserved = (
            set(DEFAULT_FIELDS) | set(CHILD_TABLE_FIELDS) | set(OPTIONAL_FIELDS)
            | set(RESTRICTED_FIELDNAMES) | set(RESERVED_KEYWORDS)
        )
        if fieldname in reserved:
            bad("fieldname is reserved by Frappe")
        if fieldname in DOCUMENT_ATTRIBUTES:
            bad("fieldname shadows a method or property of frappe's Document")
        if keyword.iskeyword(fieldname):
            bad("fieldname is a Python keyword")
        if fieldtype not in FIELDTYPES:
            bad(f"fieldtype {fieldtype!r} is not one of Frappe v15's fieldtypes")
            continue

        options = f.get("options")
        if f.get("reqd") and fieldtype in NO_VALUE_FIELDS and fieldtype not in TABLE_FIELDS:
            bad(f"a {fieldtype} cannot be mandatory")
        if f.get("hidden") and f.get("reqd") and not f.get("default"):
            bad("hidden and mandatory without a default")
        if f.get("unique"):
            if fieldtype not in UNIQUE_FIELDTYPES:
                bad(f"a {fieldtype} cannot be unique (only {', '.join(UNIQUE_FIELDTYPES)})")
            if issingle:
                bad("a single doctype's field cannot be unique")
        if f.get("search_index") and fieldtype in NOT_INDEXABLE:
            bad(f"a {fieldtype} cannot be indexed")
        if f.get("in_list_view") and fieldtype in not_in_list_view:
            bad(f"a {fieldtype} cannot be shown in the list view")
        if f.get("in_global_search") and fieldtype in NO_VALUE_FIELDS:
            bad(f"a {fieldtype} cannot be in global search")
        if f.get("non_negative") and fieldtype not in NUMERIC_FIELDTYPES:
            bad("non_negative is only for numbers")
        for key in DEPENDS_ON_KEYS:
            condition = f.get(key)
            if condition and "=" in condition and DEPENDS_ON_PATTERN.match(condition):
                bad(f"{key} {condition!r} holds an assignment")

        default = f.get("default")
        if default is not None and not isinstance(default, str):
            bad(f"default {default!r} must be written as a string, as Frappe exports it")
        if fieldtype == "Check" and default is not None and str(default) not in ("0", "1"):
            bad("a Check's default must be '0' or '1'")
        if fieldtype in ("Int", "Long Int") and default not in (None, ""):
            try:
                int(default)
            except ValueError:
                bad(f"default {default!r} is not an integer")
        if fieldtype == "Select":
            choices = [c.strip() for c in (options or "").split("\n")]
            if not any(choices):
                bad("a Select needs options, one per line")
            elif default and default not in choices:
                bad(f"default {default!r} is not one of the options {choices}")
        if fieldtype == "Data" and options and options not in DATA_FIELD_OPTIONS:
            bad(f"a Data field's options must be one of {DATA_FIELD_OPTIONS}, not {options!r}")
        if fieldtype in ("Link", *TABLE_FIELDS) and not options:
            bad(f"a {fieldtype} needs the target doctype in options")
        if fieldtype == "Dynamic Link":
            pointer = by_name.get(options)
            if not pointer or pointer.get("fieldtype") not in ("Link", "Select") or (
                pointer.get("fieldtype") == "Link" and pointer.get("options") != "DocType"
            ):
                bad(f"a Dynamic Link's options must name a Link-to-DocType (or Select) field here, not {options!r}")

    def check_fieldname_property(key: str, allowed_types=None, extra=()):
        value = doc.get(key)
        if not value:
            return
        field = by_name.get(value)
        if value in extra:
            return
        if not field:
            problem(f"{key} {value!r} is not a field")
        elif allowed_types and field.get("fieldtype") not in allowed_types:
            problem(f"{key} {value!r} must be a {' or '.join(allowed_types)} field")

    check_fieldname_property("title_field")
    check_fieldname_property("image_field", ("Attach Image",))
    check_fieldname_property("timeline_field", ("Link", "Dynamic Link"))
    check_fieldname_property("sort_field", extra=DEFAULT_FIELDS + CHILD_TABLE_FIELDS)
    for fieldname in filter(None, (s.strip() for s in (doc.get("search_fields") or "").split(","))):
        field = by_name.get(fieldname)
        if not field or field.get("fieldtype") in NO_VALUE_FIELDS:
            problem(f"search field {fieldname!r} is not a field with a value")

    autoname = doc.get("autoname") or ""
    if autoname.startswith("field:"):
        target = by_name.get(autoname.split(":", 1)[1])
        if not target:
            problem(f"autoname {autoname!r} names no field")
        elif not target.get("unique"):
            problem(f"autoname {autoname!r} names a field that is not unique")
        if doc.get("naming_rule") not in (None, "By fieldname"):
            problem(f'naming_rule {doc.get("naming_rule")!r} contradicts autoname {autoname!r} ("By fieldname")')
    elif autoname.lower() == "hash":
        if doc.get("naming_rule") not in (None, "Random"):
            problem(f'naming_rule {doc.get("naming_rule")!r} contradicts autoname "hash" ("Random")')
    elif autoname and not autoname.startswith(("naming_series:", "format:", "eval:")) and autoname.lower() not in (
        "prompt",
        "autoincrement",
        "uuid",
    ):
        problem(f"autoname {autoname!r} is not a naming rule this app uses")

    permissions = doc.get("permissions")
    if not isinstance(permissions, list):
        problem("permissions must be a list")
        permissions = []
    if istable and permissions:
        problem("a child table has no permissions of its own (Frappe empties them)")
    if not istable and not permissions:
        problem("no permissions: only Administrator could use it")
    for i, perm in enumerate(permissions, 1):
        where_perm = f"permissions row {i} ({perm.get('role')!r}, level {perm.get('permlevel', 0)})"
        for key in sorted(set(perm) - DOCPERM_KEYS):
            problem(f"{where_perm}: unknown DocPerm property {key!r}")
        if perm.get("role") not in PLAIN_FRAPPE_ROLES:
            problem(f"{where_perm}: role must exist in plain Frappe: one of {sorted(PLAIN_FRAPPE_ROLES)}")
        if not any(perm.get(k) for k in ("select", "read", "write", "submit", "cancel", "create")):
            problem(f"{where_perm}: no basic permission set")
        if perm.get("cancel") and not perm.get("submit"):
            problem(f"{where_perm}: cancel without submit")
        if (perm.get("submit") or perm.get("cancel") or perm.get("amend")) and not perm.get("write"):
            problem(f"{where_perm}: submit, cancel or amend without write")
        if perm.get("import") and not perm.get("create"):
            problem(f"{where_perm}: import without create")
        if perm.get("submit") and not doc.get("is_submittable"):
            problem(f"{where_perm}: submit on a doctype that is not submittable")
        if perm.get("import") and not doc.get("allow_import"):
            problem(f"{where_perm}: import on a doctype that does not allow import")
        same = [
            p for p in permissions
            if p is not perm and p.get("role") == perm.get("role")
            and (p.get("permlevel") or 0) == (perm.get("permlevel") or 0)
            and bool(p.get("if_owner")) == bool(perm.get("if_owner"))
        ]
        if same:
            problem(f"{where_perm}: only one rule per role, level and if_owner")
        if (perm.get("permlevel") or 0) > 0 and perm.get("role") not in ("All", "Desk User"):
            if not any(p.get("role") == perm.get("role") and not p.get("permlevel") for p in permissions):
                problem(f"{where_perm}: a higher level needs a level-0 rule for the same role")

    report(problems)


def test_links_and_tables_point_to_existing_doctypes():
    docs = all_doctypes()
    problems = []
    for name, doc in sorted(docs.items()):
        where = rel(DOCTYPE_DIR / scrub(name) / f"{scrub(name)}.json")
        for f in fields_of(doc):
            fieldname, fieldtype, target = f.get("fieldname"), f.get("fieldtype"), f.get("options")
            if fieldtype == "Link":
                if target not in docs and target not in CORE_DOCTYPES:
                    problems.append(
                        f"{where}: field {fieldname!r}: Link to {target!r}, neither this app's doctype nor "
                        f"one of plain Frappe's {sorted(CORE_DOCTYPES)} (CRM doctypes: use a Dynamic Link)"
                    )
                elif target in docs and docs[target].get("istable"):
                    problems.append(f"{where}: field {fieldname!r}: Link to the child table {target!r}")
            elif fieldtype in TABLE_FIELDS:
                if target not in docs:
                    problems.append(f"{where}: field {fieldname!r}: {fieldtype} of {target!r}, not a doctype of this app")
                elif not docs[target].get("istable"):
                    problems.append(f"{where}: field {fieldname!r}: {fieldtype} of {target!r}, which is not istable")
                elif fieldtype == "Table MultiSelect" and not any(
                    c.get("fieldtype") == "Link" for c in fields_of(docs[target])
                ):
                    problems.append(f"{where}: field {fieldname!r}: {target!r} needs a Link field for Table MultiSelect")
    report(problems)


def test_modules_txt_lists_the_module():
    modules = [line.strip() for line in (APP / "modules.txt").read_text().splitlines() if line.strip()]
    assert MODULE in modules, f"{rel(APP / 'modules.txt')}: {MODULE!r} missing (has {modules})"
    problems = []
    for module in modules:
        package = APP / scrub(module)
        if not (package / "__init__.py").exists():
            problems.append(f"{rel(APP / 'modules.txt')}: module {module!r} has no package {rel(package)}/__init__.py")
    for name, doc in sorted(all_doctypes().items()):
        if doc.get("module") not in modules:
            problems.append(f"{name}: module {doc.get('module')!r} is not in modules.txt")
    report(problems)


# --- controllers -------------------------------------------------------------------------


def parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as error:
        pytest.fail(f"{rel(path)}: {error}")


def imported_names(tree: ast.Module) -> dict[str, str]:
    """name bound at module level -> dotted origin, for `from x import y [as z]`."""
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


@pytest.mark.parametrize("path", doctype_json_files(), ids=lambda p: p.parent.name)
def test_doctype_folder_has_its_controller(path: Path):
    doc = load_json(path)
    folder, stem = path.parent, path.stem
    problems = []
    if not (DOCTYPE_DIR / "__init__.py").exists():
        problems.append(f"{rel(DOCTYPE_DIR)}/__init__.py is missing")
    if not (folder / "__init__.py").exists():
        problems.append(f"{rel(folder)}/__init__.py is missing")
    controller = folder / f"{stem}.py"
    if not controller.exists():
        problems.append(f"{rel(controller)} is missing")
        report(problems)

    tree = parse(controller)
    wanted = class_name(doc["name"])
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == wanted]
    if not classes:
        problems.append(f"{rel(controller)}: no class {wanted} (Frappe looks the controller up by that name)")
        report(problems)
    cls = classes[0]
    bases = [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in cls.bases]
    if "Document" not in bases:
        problems.append(f"{rel(controller)}: class {wanted}{tuple(bases)} must derive from Document")
    if imported_names(tree).get("Document") != "frappe.model.document.Document":
        problems.append(f"{rel(controller)}: Document must come from frappe.model.document")
    for origin in imported_names(tree).values():
        if origin.startswith("meetings_addon.") and (why := resolve(origin)):
            problems.append(f"{rel(controller)}: imports {origin}: {why}")
    fieldnames = {f.get("fieldname") for f in fields_of(doc)}
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in fieldnames:
            problems.append(f"{rel(controller)}: method {node.name}() has the name of a field of {doc['name']}")
    report(problems)


# --- hooks.py and dotted paths ---------------------------------------------------------


def module_file(dotted: str) -> Path | None:
    """The file of a module of this app, when every package on the way has __init__.py."""
    parts = dotted.split(".")
    base = REPO
    for i, part in enumerate(parts):
        base = base / part
        last = i == len(parts) - 1
        if not last and not (base / "__init__.py").exists():
            return None
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    return None


def top_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def resolve(dotted: str, kind: str = "callable") -> str | None:
    """None when `pkg.module.attr` exists in this repo; else why not."""
    module, _, attr = dotted.rpartition(".")
    path = module_file(module)
    if path is None:
        return f"no module {module} (file or a package __init__.py missing)"
    if attr not in top_level_names(parse(path)):
        return f"{rel(path)} defines no {attr}"
    return None


def imports_frappe_at_top(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "frappe" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "frappe" and node.level == 0:
            return True
    return False


def hooks_values() -> dict[str, object]:
    path = APP / "hooks.py"
    tree = parse(path)
    values, problems = {}, []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring
        if not (isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)):
            problems.append(f"{rel(path)} line {node.lineno}: only `name = <literal>` belongs in hooks.py")
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            problems.append(f"{rel(path)} line {node.lineno}: the value of {node.targets[0].id} is not a literal")
            continue
        for target in node.targets:
            values[target.id] = value
    report(problems)
    return values


def strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings_in(k) + strings_in(v)]
    if isinstance(value, (list, tuple, set)):
        return [s for item in value for s in strings_in(item)]
    return []


# Hooks whose values are dotted paths of functions (frappe/utils/boilerplate.py hooks_template).
CALLABLE_HOOKS = (
    "before_install", "after_install", "before_uninstall", "after_uninstall", "before_migrate",
    "after_migrate", "before_tests", "after_sync", "boot_session", "extend_bootinfo",
    "on_session_creation", "on_login", "on_logout", "before_request", "after_request",
    "before_job", "after_job", "before_app_install", "after_app_install",
    "before_app_uninstall", "after_app_uninstall",
)


def test_hooks_is_plain_data_for_this_app():
    values = hooks_values()
    assert values.get("app_name") == "meetings_addon", "hooks.py: app_name must be meetings_addon"
    for key in ("app_title", "app_publisher", "app_description", "app_license"):
        assert isinstance(values.get(key), str) and values[key], f"hooks.py: {key} must be a non-empty string"
    assert values.get("required_apps", []) == [], "hooks.py: required_apps must stay empty (Frappe CRM is optional)"
    rules = values.get("website_route_rules", [])
    assert {"from_route": "/meetings/<slug>", "to_route": "meetings"} in rules, (
        f"hooks.py: website_route_rules must send /meetings/<slug> to the meetings page, has {rules}"
    )


def test_hooks_dotted_paths_resolve():
    values = hooks_values()
    problems = []
    for key in CALLABLE_HOOKS:
        for path in strings_in(values.get(key)):
            if not DOTTED_PATH.fullmatch(path):
                problems.append(f"hooks.py: {key} = {path!r} is not a dotted path into meetings_addon")
    for key, value in sorted(values.items()):
        for path in strings_in(value):
            if DOTTED_PATH.fullmatch(path) and (why := resolve(path)):
                problems.append(f"hooks.py: {key}: {path}: {why}")
    report(problems)


def test_hook_targets_load_without_frappe():
    """Modules named by hooks.py (other than doctype controllers) import frappe lazily."""
    values = hooks_values()
    problems = []
    for key in CALLABLE_HOOKS:
        for path in strings_in(values.get(key)):
            file = module_file(path.rpartition(".")[0])
            if file and imports_frappe_at_top(parse(file)):
                problems.append(f"{rel(file)} (hooks.py {key}): imports frappe at module level")
    report(problems)


def patch_entries() -> list[tuple[str, str]]:
    """(section, entry) of patches.txt, parsed the way frappe/modules/patch_handler.py does."""
    path = APP / "patches.txt"
    parser = configparser.ConfigParser(allow_no_value=True, delimiters="\n")
    parser.optionxform = str
    parser.read(path)
    assert parser.sections() == ["pre_model_sync", "post_model_sync"], (
        f"{rel(path)}: sections must be [pre_model_sync] then [post_model_sync], found {parser.sections()}"
    )
    return [(section, entry) for section in parser.sections() for entry in parser[section]]


def test_patches_resolve_to_an_execute_function():
    problems = []
    entries = patch_entries()
    assert ("post_model_sync", "meetings_addon.patches.v0_1.add_contact_email_index") in entries
    for section, entry in entries:
        if entry.startswith("execute:"):
            try:
                compile(entry.split("execute:", 1)[1], "patches.txt", "exec")
            except SyntaxError as error:
                problems.append(f"patches.txt [{section}] {entry!r}: {error}")
            continue
        module = entry.split(maxsplit=1)[0].removeprefix("finally:")
        if not DOTTED_PATH.fullmatch(module):
            problems.append(f"patches.txt [{section}] {entry!r}: not a dotted module path into meetings_addon")
        elif why := resolve(f"{module}.execute"):
            problems.append(f"patches.txt [{section}] {entry!r}: {why}")
        elif imports_frappe_at_top(parse(module_file(module))):
            problems.append(f"patches.txt [{section}] {entry!r}: imports frappe at module level")
    report(problems)


def test_app_has_the_bench_new_app_shape():
    # frappe/utils/boilerplate.py _create_app_boilerplate
    required = [
        APP / "__init__.py",
        APP / "hooks.py",
        APP / "modules.txt",
        APP / "patches.txt",
        APP / "meetings_addon" / "__init__.py",
        APP / "config" / "__init__.py",
        APP / "templates" / "__init__.py",
        APP / "templates" / "pages" / "__init__.py",
        APP / "public" / ".gitkeep",
        APP / "patches" / "__init__.py",
    ]
    missing = [rel(p) for p in required if not p.exists()]
    assert not missing, f"missing: {missing}"
    init = parse(APP / "__init__.py")
    assert "__version__" in top_level_names(init), "meetings_addon/__init__.py must define __version__ (bench reads it)"


# --- pure helpers of the install hook --------------------------------------------------


def load_install():
    spec = importlib.util.spec_from_file_location("_meetings_install_under_test", APP / "hosts" / "frappe" / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_internal_domains_from_emails_skips_public_mail():
    install = load_install()
    emails = ["ann@Acme.io", "bob@acme.io", "carl@gmail.com", None, "", "admin@example.com", "x@sub.acme.co.uk"]
    assert install.internal_domains_from_emails(emails) == ["acme.io", "sub.acme.co.uk"]


def test_parse_domains_normalises_and_names_a_bad_entry():
    install = load_install()
    assert install.parse_domains(" Acme.io\n@beta.com, acme.io\n\n") == ["acme.io", "beta.com"]
    assert install.parse_domains(None) == []
    with pytest.raises(ValueError, match="not_a_domain"):
        install.parse_domains("acme.io\nnot_a_domain")


# --- controller smoke tests against a stand-in frappe ---------------------------------


class FakeValidationError(Exception):
    pass


class Row(dict):
    def __getattr__(self, key):
        return self.get(key)

    def __setattr__(self, key, value):
        self[key] = value


class FakeMeta:
    def __init__(self, doc: dict):
        self.fields = fields_of(doc)

    def get_label(self, fieldname):
        for f in self.fields:
            if f.get("fieldname") == fieldname:
                return f.get("label")
        return "No Label"


def fake_frappe(monkeypatch, *, user_time_zones=None, records=None):
    """Just enough of frappe's API for the controllers' validate methods."""
    docs = all_doctypes()
    records = records if records is not None else []

    class Document:
        doctype = None

        def __init__(self, values: dict):
            doc = docs[self.doctype]
            object.__setattr__(self, "meta", FakeMeta(doc))
            for f in fields_of(doc):
                if f["fieldtype"] in TABLE_FIELDS:
                    value = [Row(r, idx=i) for i, r in enumerate(values.get(f["fieldname"], []), 1)]
                elif f["fieldtype"] in NO_VALUE_FIELDS:
                    continue
                else:
                    value = values.get(f["fieldname"])
                setattr(self, f["fieldname"], value)
            self.name = values.get("name", "new-doc")

        def as_dict(self):
            return {
                k: ([dict(r) for r in v] if isinstance(v, list) else v)
                for k, v in vars(self).items()
                if k != "meta"
            }

        def is_new(self):
            return True

        def get_doc_before_save(self):
            return None

    def throw(msg, exc=FakeValidationError, title=None, **kwargs):
        raise exc(msg)

    def matches(record, filters):
        for key, want in filters.items():
            if isinstance(want, tuple) and want[0] == "!=":
                if record.get(key) == want[1]:
                    return False
            elif isinstance(want, tuple) and want[0] == "not in":
                if record.get(key) in want[1]:
                    return False
            elif record.get(key) != want:
                return False
        return True

    def get_all(doctype, filters=None, pluck=None, **kwargs):
        found = [r for r in records if r["doctype"] == doctype and matches(r, filters or {})]
        return [r[pluck] for r in found] if pluck else found

    def exists(doctype, filters):
        found = get_all(doctype, filters, pluck="name")
        return found[0] if found else None

    frappe = types.ModuleType("frappe")
    frappe.ValidationError = FakeValidationError
    frappe._ = lambda text, *args, **kwargs: text
    frappe.bold = lambda text: f"**{text}**"
    frappe.throw = throw
    frappe.get_all = get_all
    frappe.get_cached_value = lambda doctype, name, field: (user_time_zones or {}).get(name)
    frappe.db = types.SimpleNamespace(exists=exists, set_value=lambda *args, **kwargs: None)
    frappe.conf = {}  # site_config.json: no host_name, so the site's name is its address
    frappe.local = types.SimpleNamespace(site="crm.acme.io")
    utils = types.ModuleType("frappe.utils")
    utils.get_system_timezone = lambda: "Asia/Kolkata"
    utils.get_url = lambda *args, **kwargs: "https://crm.acme.io"
    utils.get_datetime = lambda value: datetime.fromisoformat(str(value)) if value else None
    model = types.ModuleType("frappe.model")
    document = types.ModuleType("frappe.model.document")
    document.Document = Document
    frappe.utils, frappe.model, model.document = utils, model, document
    for name, module in {"frappe": frappe, "frappe.utils": utils, "frappe.model": model,
                         "frappe.model.document": document}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return frappe


def controller(doctype: str):
    """The controller class, loaded from its file (after fake_frappe)."""
    path = DOCTYPE_DIR / scrub(doctype) / f"{scrub(doctype)}.py"
    spec = importlib.util.spec_from_file_location(f"_meetings_controller_{scrub(doctype)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = getattr(module, class_name(doctype))
    cls.doctype = doctype
    return cls


def meeting_link(**values):
    base = {
        "slug": "intro-call",
        "title": "Intro call",
        "host": "ann@acme.io",
        "meeting_type": "One-on-one",
        "durations": "30",
        "availability": [{"weekday": "Monday", "start_time": "09:00:00", "end_time": "17:00:00"}],
        "window_type": "Rolling",
        "rolling_weeks": 4,
    }
    base.update(values)
    return base


def test_meeting_link_defaults_timezone_from_host_then_system(monkeypatch):
    fake_frappe(monkeypatch, user_time_zones={"ann@acme.io": "Europe/Paris"})
    MeetingLink = controller("Meeting Link")
    doc = MeetingLink(meeting_link())
    doc.validate()
    assert doc.timezone == "Europe/Paris"
    doc = MeetingLink(meeting_link(host="bob@acme.io"))
    doc.validate()
    assert doc.timezone == "Asia/Kolkata"


@pytest.mark.parametrize(
    "values, label",
    [
        ({"slug": "Intro Call"}, "Slug"),
        ({"slug": "x" * 101}, "Slug"),
        ({"questions": [{"label": "A", "fieldname": "company"}, {"label": "B", "fieldname": "company"}]}, "Questions"),
        ({"questions": [{"label": "A", "fieldname": "Company Name"}]}, "Questions"),
        ({"questions": [{"label": "A", "fieldname": "email"}]}, "Questions"),
        ({"questions": [{"label": "A", "fieldname": "size", "fieldtype": "Select"}]}, "Questions"),
        ({"reminders": [{"minutes_before": m} for m in (10, 60, 1440, 2880)]}, "Reminders"),
        ({"hosts": [{"user": "ann@acme.io"}, {"user": "ann@acme.io"}]}, "Hosts"),
        ({"timezone": "Mars/Olympus"}, "Time Zone"),
        ({"durations": "0"}, "Durations"),
        ({"availability": [{"weekday": "Monday", "start_time": "17:00:00", "end_time": "09:00:00"}]}, "Weekly Hours"),
    ],
)
def test_meeting_link_refuses_bad_values_naming_the_field(monkeypatch, values, label):
    fake_frappe(monkeypatch)
    MeetingLink = controller("Meeting Link")
    with pytest.raises(FakeValidationError, match=f"^{re.escape(label)}: "):
        MeetingLink(meeting_link(**{"timezone": "Europe/Paris", **values})).validate()


def test_meeting_link_accepts_a_full_link(monkeypatch):
    fake_frappe(monkeypatch)
    MeetingLink = controller("Meeting Link")
    doc = MeetingLink(
        meeting_link(
            timezone="Europe/Paris",
            questions=[{"label": "Company", "fieldname": " company ", "fieldtype": "Data"},
                       {"label": "Size", "fieldname": "size", "fieldtype": "Select", "options": "1-10\n11-50"}],
            reminders=[{"minutes_before": 60}, {"minutes_before": 1440}],
            date_overrides=[{"date": "2030-01-07", "unavailable": 1}],
        )
    )
    doc.validate()
    assert doc.questions[0].fieldname == "company"


def test_calendar_connection_one_per_provider_and_one_default(monkeypatch):
    records = [{"doctype": "Calendar Connection", "name": "abc", "user": "ann@acme.io", "provider": "Google"}]
    fake_frappe(monkeypatch, records=records)
    CalendarConnection = controller("Calendar Connection")
    with pytest.raises(FakeValidationError, match="already has a Google connection"):
        CalendarConnection({"user": "ann@acme.io", "provider": "Google"}).validate()
    CalendarConnection({"name": "abc", "user": "ann@acme.io", "provider": "Google"}).validate()
    two = [{"calendar_id": "a", "is_default": 1}, {"calendar_id": "b", "is_default": 1}]
    none = [{"calendar_id": "a"}, {"calendar_id": "b"}]
    one = [{"calendar_id": "a"}, {"calendar_id": "b", "is_default": 1}]
    for calendars in (two, none):
        with pytest.raises(FakeValidationError, match="exactly one"):
            CalendarConnection({"user": "bob@acme.io", "provider": "CalDAV", "calendars": calendars}).validate()
    CalendarConnection({"user": "bob@acme.io", "provider": "CalDAV", "calendars": one}).validate()


def test_booking_refuses_an_end_before_its_start(monkeypatch):
    fake_frappe(monkeypatch)
    Booking = controller("Booking")
    Booking({"start": "2030-01-07 10:00:00", "end": "2030-01-07 10:30:00"}).validate()
    with pytest.raises(FakeValidationError, match="End must be after Start"):
        Booking({"start": "2030-01-07 10:00:00", "end": "2030-01-07 10:00:00"}).validate()


def test_meetings_settings_prefills_and_normalises_domains(monkeypatch):
    records = [
        {"doctype": "User", "name": "ann@acme.io", "email": "ann@acme.io", "enabled": 1, "user_type": "System User"},
        {"doctype": "User", "name": "joe@gmail.com", "email": "joe@gmail.com", "enabled": 1, "user_type": "System User"},
        {"doctype": "User", "name": "web@shop.io", "email": "web@shop.io", "enabled": 1, "user_type": "Website User"},
        {"doctype": "User", "name": "Administrator", "email": "admin@root.io", "enabled": 1, "user_type": "System User"},
    ]
    fake_frappe(monkeypatch, records=records)
    MeetingsSettings = controller("Meetings Settings")
    doc = MeetingsSettings({"default_duration": 30, "sync_interval": 10})
    doc.onload()
    assert doc.internal_domains == "acme.io"
    doc.internal_domains = "B.io\n@a.io"
    doc.validate()
    assert doc.internal_domains == "a.io\nb.io"
    doc.internal_domains = "not a domain!"
    with pytest.raises(FakeValidationError, match="Internal Domains"):
        doc.validate()


def test_meetings_settings_cleans_the_custom_domains(monkeypatch):
    fake_frappe(monkeypatch)
    MeetingsSettings = controller("Meetings Settings")
    doc = MeetingsSettings({"default_duration": 30, "sync_interval": 10, "internal_domains": "acme.io",
                            "custom_domains": "Meet.Acme.IO/\n\nmeet.acme.io\nBücher.example"})
    doc.validate()
    assert doc.custom_domains == "meet.acme.io\nxn--bcher-kva.example"
    for bad in ("meet.acme.io\nhttps://meet.acme.io", "10.0.0.1", "crm.acme.io"):  # the last is the site itself
        doc.custom_domains = bad
        with pytest.raises(FakeValidationError, match="^Custom Domains: line "):
            doc.validate()
