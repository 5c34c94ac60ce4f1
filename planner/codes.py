"""The codes that are not design rules: MP0xx (reading the file, the command line, the tools) and
MP1xx (the language: types and references). `misp-planner explain` prints them like the rules
(planner/rules/catalogue.py); a test checks that every code the planner can emit is listed here or
is a rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    why: str


_CODES = [
    Code("MP001", "the topology file cannot be opened",
         "The path names a folder, a missing file or one without read permission. Name the topology "
         "file itself (e.g. examples/national-csirt/topology.yaml), or `-` to read standard input."),
    Code("MP002", "the file is not UTF-8",
         "Topology files are UTF-8 text. A UTF-16 file (with its byte order mark) or bytes that are not "
         "UTF-8 are refused; save the file as UTF-8 in your editor."),
    Code("MP003", "the file is empty",
         "An empty file (or one holding only comments) describes no estate. `misp-planner init` writes a "
         "commented starter topology."),
    Code("MP004", "YAML syntax error",
         "The file is not valid YAML 1.2: an unclosed bracket or quote, a tab used for indentation, a "
         "mapping and a list mixed at one level. The finding points at the first place the parser failed."),
    Code("MP005", "duplicate key",
         "YAML parsers silently keep the last of two equal keys; the planner refuses them, because one of "
         "the two definitions would be lost without a word."),
    Code("MP006", "aliases expand too far",
         "YAML aliases that expand to more values than any real topology holds (the \"billion laughs\" "
         "attack). Write the values out or use fewer nested aliases."),
    Code("MP007", "the top level is not a mapping",
         "A topology file is a mapping with the keys version, name, organisations, communities and "
         "instances (see docs/language.md)."),
    Code("MP008", "the file is too large",
         "A topology is written by people; a file above the size limit is refused before it is parsed."),
    Code("MP009", "unsupported YAML tag",
         "Tags such as !!python/object or custom !tags are refused: a topology uses plain YAML values."),
    Code("MP010", "the document nests too deeply",
         "A topology needs a handful of levels; deeper nesting is refused before it exhausts the parser."),
    Code("MP011", "a value is too long",
         "A single string above the length limit is refused; long text belongs in documentation."),
    Code("MP012", "the estate is too large",
         "More instances or sync entries than the planner is built and tested for; split the estate."),
    Code("MP020", "the output folder cannot be written",
         "`build`, `report` and `generate` replace their output folder whole, and only a folder they "
         "created (it holds their marker file) unless --force is given; the path must be writable."),
    Code("MP021", "the git revision cannot be read",
         "`diff --git REV FILE` reads FILE as it was at REV with git; the revision or the file at that "
         "revision does not exist, or this is not a git work tree."),
    Code("MP030", "a file given on the command line is not what the command expects",
         "A styles file for `draw --styles` that is not a valid styles mapping, or a folder given to "
         "`apply` that `generate` did not write (it needs site.yml and inventory/hosts.yml)."),
    Code("MP031", "an option value is not valid",
         "A diagram option (--flow, --focus, the output extension) or an `apply -e KEY=VALUE` that the "
         "command cannot use; the message names the accepted forms."),
    Code("MP032", "Graphviz is not installed",
         "Diagrams in .svg, .png and .pdf are laid out by Graphviz's `dot`. Install it (Debian/Ubuntu: "
         "apt-get install graphviz), or draw to .dot or .mmd, which need no layout."),
    Code("MP033", "ansible-playbook is not installed",
         "`apply` runs the generated project with ansible-playbook, which misp-planner installs as a "
         "dependency (the `ansible` package). It is missing from this environment and from PATH: "
         "reinstall misp-planner with its dependencies, or install ansible beside it."),
    Code("MP040", "the MISP bundle cannot be made",
         "`bundle` clones MISP at the pinned version with its submodules, runs composer and pip, and writes "
         "one archive: a tool it needs is missing (git, composer, pip), a step failed (the message shows "
         "its last lines), the source is not a MISP tree, or the archive exists already (docs/install.md)."),
    Code("MP101", "unknown key",
         "A key the language does not define, usually a typo; the hint names the closest known key. "
         "docs/language.md lists every key."),
    Code("MP102", "missing required key",
         "A key the language requires here is absent (e.g. an instance's community, host_org or url)."),
    Code("MP103", "a value has the wrong shape",
         "The value does not fit the key: a MISP setting not written `Setting.name: value`, a policy "
         "target that is neither an instance nor {community: id}, a push/pull that is neither true nor "
         "a filter object."),
    Code("MP104", "not a count",
         "Counts are written as people say them: 250, 12k, 1.5M, 50M, 2G."),
    Code("MP105", "not a rate",
         "Rates are a count per period: 20k/day, 500/hour, 3M/month, 40M/year (also /week)."),
    Code("MP106", "not a duration",
         "Durations: 30s, 15m, 1h, 1d, 2w, 6mo, 3y."),
    Code("MP107", "not a size",
         "Sizes use binary units: 512MiB, 16GiB, 2TiB (also B, KiB, PiB)."),
    Code("MP108", "not a distribution level",
         "MISP's five levels: organisation, community, connected, all, sharing-group (or MISP's 0-4)."),
    Code("MP109", "not a valid id",
         "Ids of organisations, communities, instances, feeders, consumers and sharing groups are "
         "lower-case letters, digits and '-', starting with a letter: they become Ansible host and "
         "group names."),
    Code("MP110", "a value that is not one of the allowed words",
         "Keys such as trust, platform, purpose, via or format take one of a fixed set of words; the "
         "hint lists them."),
    Code("MP111", "unsupported language version",
         "The first key of a topology is `version: 1`, the only version of the language."),
    Code("MP112", "not a UUID",
         "Write a UUID like 5d9c1f0e-3a2b-4c4d-9e8f-0a1b2c3d4e5f, or leave the key out: the planner "
         "derives a stable UUID from the estate name and the id."),
    Code("MP113", "not a URL",
         "An instance's url is its MISP.baseurl (https://misp.example.org); a feed's url is where MISP "
         "fetches it from."),
    Code("MP114", "not an address or network",
         "allowed_ips take addresses or networks in CIDR form: 198.51.100.7/32, 2001:db8::/48."),
    Code("MP115", "not a MISP version",
         "Write the MISP version as a quoted string (\"2.5\"): unquoted, YAML reads 2.10 as 2.1."),
    Code("MP116", "not a volume",
         "An instance's volume is a class (below-50M, above-50M) or {attributes: 12M, growth: 20k/day}."),
    Code("MP117", "an empty list or mapping where entries are needed",
         "organisations, communities and instances need at least one entry."),
    Code("MP118", "a number out of range",
         "A number below its minimum or above its maximum (e.g. a negative count, a zero interval)."),
    Code("MP150", "unknown reference",
         "An id that names no organisation, community, instance, feeder or sharing group of the file; "
         "the hint names the closest existing id."),
    Code("MP151", "two organisations with the same name",
         "MISP refuses a second organisation with a name already in use (OrganisationsController::admin_add "
         "answers \"An organisation with this name already exists\"; docs/misp-behaviour.md#preparing-both-ends), "
         "so the estate could not be provisioned."),
    Code("MP152", "two organisations with the same UUID",
         "An organisation's UUID is its identity across every instance it syncs with; two organisations "
         "sharing one would be merged by MISP."),
    Code("MP153", "two instances with the same URL",
         "Peers tell instances apart by MISP.baseurl; two instances with one URL are one instance."),
    Code("MP154", "a sync connection that neither pushes nor pulls",
         "A `sync:` entry is a MISP server entry; without push or pull it moves no data. Add `push: true` "
         "and/or `pull: true` (or a filter object)."),
    Code("MP155", "an instance connected to itself",
         "A server entry points at another instance; initiator and remote must differ."),
    Code("MP156", "a roaming sharing group that also lists instances",
         "MISP ignores the server list of a roaming sharing group (SharingGroup::checkIfServerInSG, "
         "app/Model/SharingGroup.php; docs/misp-behaviour.md#sharing-groups); drop one."),
    Code("MP157", "a sharing group with no instance that is not roaming",
         "Its events stay on the instance where they were created: list the instances, or make it roaming."),
    Code("MP158", "distribution sharing-group without a sharing group",
         "Events at distribution sharing-group must name the group they go to (`sharing_group: <id>`)."),
    Code("MP159", "a feeder's via and feed block disagree",
         "`via: feed` needs a `feed:` block (url, format); `via: api` must not have one."),
    Code("MP160", "a feeder's organisation is not local to its instance",
         "A feeder creates events as an organisation with users on the instance it feeds: list the "
         "organisation in the instance's orgs, or leave `org` out to use the host organisation. A MISP-format "
         "feed (`via: feed`, `format: misp`) is exempt: its events keep the creator organisation they carry "
         "(app/Model/Feed.php)."),
    Code("MP161", "an API consumer without a format",
         "A consumer reading through the API names the restSearch returnFormat it needs (json, csv, "
         "suricata, rpz, stix2...), so that sizing and the security review know what it exports."),
    Code("MP162", "a policy that asserts nothing",
         "A policy needs must_reach or must_not_reach."),
    Code("MP163", "a policy target that is not one instance or one community",
         "Each target is an instance id or {community: id}."),
    Code("MP164", "a sync user's role cannot do what its entry needs",
         "The key of a sync user works only if its role has perm_auth, and the remote accepts pushes only "
         "from a role with perm_sync (docs/misp-behaviour.md#preparing-both-ends): give the role of "
         "`sync_user.role` those flags, or use MISP's `Sync user`."),
    Code("MP050", "a running instance cannot be reached",
         "`import` and `drift` read each instance at its URL (MISP.baseurl): the name does not resolve, "
         "nothing listens there or a firewall drops the connection. The other instances are still read; "
         "check the URL from the machine running the planner."),
    Code("MP051", "the TLS handshake with an instance failed",
         "The instance's certificate is not trusted by this machine (self-signed, or an unknown CA), or the "
         "URL says https where the server speaks plain HTTP. Install the CA on this machine, fix the URL, "
         "or pass --insecure for a test instance."),
    Code("MP052", "an instance refused the API key",
         "MISP answers 403 \"Authentication failed\" (AppController, app/Controller/AppController.php) for "
         "an unknown, expired or disabled key, or one pinned to other addresses (the key's allowed_ips). "
         "Give the site admin key in MISP_ADMIN_KEY_<INSTANCE> or the ansible-vault file."),
    Code("MP053", "the key may not read what the planner needs",
         "MISP answers 403 \"You do not have permission to use this functionality\" to a key whose user is "
         "not a site admin: server entries, users and settings are admin pages. Use a site admin's key."),
    Code("MP054", "the server does not answer as MISP does",
         "It answered HTML, no version at /servers/getVersion, or JSON in shapes MISP does not use: the URL "
         "may name a proxy's landing page, another application, or MISP behind a login portal."),
    Code("MP055", "no admin key for an instance",
         "Keys never come from the command line: set MISP_ADMIN_KEY_<INSTANCE> (the instance id upper-cased, "
         "'-' as '_') or give --vault with `vault_misp_admin_keys: {<instance>: <key>}`."),
]

CODES: dict[str, Code] = {c.code: c for c in _CODES}


def get_code(code: str) -> Code | None:
    return CODES.get(code.strip().upper())
