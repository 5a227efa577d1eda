"""Passwords in the forms ``kv_password`` does not read: commands, markup, keys ending in "pass".

``kv_password`` (``_secrets``) reads a key that names a password, "=" or ":", then the value.
Agents also run commands and read configuration files, where a password is written otherwise:

- ``mysql -u root -pS3cr3t``: MySQL's clients take the password glued to ``-p`` (``-p`` alone
  prompts for it); ``redis-cli -a``, ``sshpass -p``, MongoDB's ``-p``, ``sqlcmd -P`` (one table,
  ``_CLIENT_FLAGS``); ``curl -u user:S3cr3t``; and a flag naming a password, its value after a
  space (``--admin-password S3cr3t``, ``docker login --password S3cr3t``);
- ``<password>S3cr3t</password>``: XML configuration (Maven's settings.xml, Tomcat, .NET);
- ``db_pass=S3cr3t``, ``DB_PASS: S3cr3t``, ``smtp.pass = ...``: "pass" ending a longer key, and
  the short keys ``PASS=`` and ``pw:``; ``auth=("admin", "S3cr3t")`` and ``HTTPBasicAuth(...)``;
- the word for password in seven more languages, as a key or told ("Passwort: ...", "mein
  Passwort ist ...", "minha senha é ..."), and in other scripts ("пароль: ...", "密码: ...",
  "パスワードは ...", "hasło: ..."), also as a JSON field's name (``names_password_word``).

"pass" names other things too ("first_pass: done", "PASS: test_x"), ``psql --password`` is a
switch (it prompts) followed by a database name, and "Passwort" starts sentences. So these forms
take only a value shaped like a password (``shaped_like_password``: letters and digits, or a
symbol passwords are made with): "S3cr3t" and "p@ss!" are passwords; "done", "orders", "True,"
and "ShrinkPass" (``first_pass=True``, ``shrink_pass: ShrinkPass`` in code) are not. A glued
``-p`` and a markup element say what their value is, and take any value but a placeholder.
"""

from __future__ import annotations

import re
from typing import Final

from otel_flywheel.privacy._secrets import KIND_PASSWORD, is_reference, shaped_like_password
from otel_flywheel.privacy._shapes import Alternative, Span, Validator

__all__ = ["PASSWORD_FORM_ALTERNATIVES", "names_password_word"]

# A value after a flag or a key: quoted (to the closing quote), or one shell word.
_VALUE: Final = (
    r"(?:\"(?P<{name}_q>[^\"\r\n]{{1,256}})\"|'(?P<{name}_s>[^'\r\n]{{1,256}})'"
    r"|(?P<{name}_v>[^\s\"'`<>|;&]{{1,256}}))"
)
# Between a command and its password flag: shell words of the same command, a dozen at most.
_SHELL_SEPARATOR: Final = re.compile(r"[|;&<>]")
_MOST_ARGUMENTS: Final = 12
_COMMAND_WIDTH: Final = 1024  # how far back a password flag's command is looked for
_OTHER_FLAG: Final = re.compile(r"(?:^|[ \t])-")
_PAIR_SEPARATOR: Final = re.compile(r"[ \t]?[:/][ \t]?")
_CURL: Final = re.compile(r"(?s:.*)(?<![\w.\-])(?i:curl)(?![\w\-])")
# Commands whose --password is a switch that prompts, not a flag with a value.
_PROMPTING: Final = re.compile(r"(?<![\w.-])(?i:psql|pg_dump|pg_restore|mysql\w*|mariadb\w*)\b")
_FLAG_NAME: Final = re.compile(r"[A-Za-z0-9_\-]*\Z")
# The start of an element's opening tag, before the "password" that ends its name.
_OPENING_TAG: Final = re.compile(r"<[A-Za-z0-9_.:\-]*\Z")
_LONGEST_TAG: Final = 64


# The word for password in German, French, Spanish, Portuguese, Dutch, Finnish and Czech (as a
# regex: "contraseña" is written "contrasena" too), told in text or naming a JSON key.
_PASSWORD_WORDS_LATIN: Final = (
    r"passwort|kennwort|mot de passe|contrase(?:ñ|n)a|senha|wachtwoord|salasana|heslo"
)
# The word for password written with non-ASCII letters, each case as written (found as is).
_PASSWORD_WORDS_IN_SCRIPTS: Final = (
    *("пароль", "Пароль", "ПАРОЛЬ", "hasło", "Hasło", "HASŁO", "şifre", "Şifre", "ŞIFRE"),
    *("jelszó", "Jelszó", "JELSZÓ", "lösenord", "Lösenord", "LÖSENORD", "mật khẩu", "Mật khẩu"),
    *("パスワード", "密码", "密碼", "비밀번호", "암호", "סיסמה", "كلمة المرور", "पासवर्ड"),
)


# A key that ends in the word for password in another language ("Passwort", "db_senha",
# "пароль", "数据库密码"): a word of its own, or a camelCase one.
_PASSWORD_WORD_KEY: Final = re.compile(
    r"(?s:.*?)(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))"
    r"(?i:"
    + _PASSWORD_WORDS_LATIN.replace(" ", r"[_\- ]?")
    + "|"
    + "|".join(map(re.escape, _PASSWORD_WORDS_IN_SCRIPTS))
    + ")"
)


def names_password_word(key: str) -> bool:
    """Whether a JSON field or attribute is named by the word for password in a language other
    than English ("Passwort", "db_senha", "пароль", "密码"): a password where the value is
    shaped like one, since these are words of prose too."""
    return _PASSWORD_WORD_KEY.fullmatch(key) is not None


# What a password opens, written before "pass": "db pass:", "wifi pass:", "admin pass:". One
# lookbehind per width (Python's must be fixed), after a space and not inside a longer word.
_OPENED: Final = (
    "db", "ftp", "ssh", "sql", "vpn", "root", "wifi", "smtp", "mail", "user", "admin", "email",
    "login", "router", "server", "account", "database",
)  # fmt: skip
_AFTER_WHAT_IT_OPENS: Final = (
    "(?:"
    + "|".join(
        rf"(?<=(?<![A-Za-z0-9_\-])(?i:{'|'.join(w for w in _OPENED if len(w) == n)}) )"
        for n in sorted({len(w) for w in _OPENED})
    )
    + ")"
)


def _groups(name: str) -> tuple[str, ...]:
    return tuple(f"{name}_{suffix}" for suffix in ("q", "s", "v"))


def _named_value(text: str, start: int, end: int, floor: int) -> Span | None:
    """A value its name leaves no doubt about (``-p`` glued, a markup element): any but a
    placeholder or a reference (``-p$MYSQL_PWD``, ``<password>${db.password}</password>``)."""
    value = text[start:end].strip()
    return None if not value or is_reference(value) else (start, end)


def _line_before(text: str, start: int) -> str:
    """The line up to ``start``, at most ``_COMMAND_WIDTH`` characters of it: the patterns that
    look back for a command are matched once from its start (a ``search`` would try every
    place, which a long line without the command makes quadratic)."""
    return text[max(text.rfind("\n", 0, start) + 1, start - _COMMAND_WIDTH) : start]


def _after_other_flags(commands: str, flag: str) -> Validator:
    """A client's password flag: on the line of one of ``commands``, with no shell separator
    between them; after other flags ("mysql -u root -phunter"), any value but a placeholder;
    as the only flag, one shaped like a password ("MySQL is great -pretty" and "mongo is slow
    with -p 4" are prose)."""
    # The last of the commands named on the line: the one whose flags come before this one.
    command = re.compile(rf"(?s:.*)(?<![\w.\-])(?i:{commands})[\w\-]*")
    flag_at_end = re.compile(rf" {flag}[\"']?\Z")

    def validate(text: str, start: int, end: int, floor: int) -> Span | None:
        line = _line_before(text, start)
        found = command.match(line)
        if found is None:
            return None
        arguments = flag_at_end.sub("", line[found.end() :])
        if _SHELL_SEPARATOR.search(arguments) or len(arguments.split()) > _MOST_ARGUMENTS:
            return None
        if _OTHER_FLAG.search(arguments) is None and not shaped_like_password(text[start:end]):
            return None
        return _named_value(text, start, end, floor)

    return validate


def _curl_credentials(text: str, start: int, end: int, floor: int) -> Span | None:
    """curl's ``user:password``, on a line that runs curl, with no placeholder for a password."""
    line = _line_before(text, start)
    found = _CURL.match(line)
    if found is None or _SHELL_SEPARATOR.search(line[found.end() :]):
        return None
    password = text[start:end].partition(":")[2]
    return None if not password or is_reference(password) else (start, end)


def _pair_with_a_password(text: str, start: int, end: int, floor: int) -> Span | None:
    """``user:password`` or ``user / password`` after words that say so: the user goes with the
    password (an email as the user is inside the match, which the scan steps over), where the
    password is shaped like one ("login: admin/dashboard" is a path)."""
    password = _PAIR_SEPARATOR.split(text[start:end], maxsplit=1)[-1]
    return (start, end) if shaped_like_password(password) else None


def _quoted_pair(text: str, start: int, end: int, floor: int) -> Span | None:
    """``"admin", "S3cr3t"`` in a Basic pair: the user with the password, unless the password is
    a placeholder (``"password"``, ``"***"``)."""
    password = text[start:end].rsplit(",", 1)[-1].strip().strip("\"'")
    return None if not password or is_reference(password) else (start, end)


def _shaped_value(text: str, start: int, end: int, floor: int) -> Span | None:
    """A value whose name may mean something else: only one shaped like a password."""
    return (start, end) if shaped_like_password(text[start:end]) else None


def _flag_value(text: str, start: int, end: int, floor: int) -> Span | None:
    """The value after ``--<...>password`` and a space: the flag starts a shell word, and its
    command is not one whose ``--password`` prompts (``psql --password orders``)."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start]
    keyword = before.rstrip(" \t\"'")
    flag = _FLAG_NAME.search(keyword[: len(keyword) - len("password")])
    name = flag.group() if flag is not None else ""
    if not name.startswith("-") or _PROMPTING.search(before):
        return None
    return _shaped_value(text, start, end, floor)


def _element_value(text: str, start: int, end: int, floor: int) -> Span | None:
    """An element's text: the opening tag names a password as the closing one does."""
    name_end = text.rfind(">", 0, start) - len("password")
    if _OPENING_TAG.search(text, max(0, name_end - _LONGEST_TAG), name_end) is None:
        return None
    return _named_value(text, start, end, floor)


# Clients whose flag is followed by the password: MySQL's and MariaDB's "-pS3cr3t" (glued: "-p"
# alone prompts, and "-P 3306" is the port), redis-cli's "-a S3cr3t" ("--pass"), sshpass's
# "-p S3cr3t" (what it types into ssh), MongoDB's shells and tools ("-p S3cr3t"), and SQL
# Server's sqlcmd and bcp ("-P S3cr3t"; "-p" prints statistics there). Each branch is entered at
# the flag, not at the command: a match runs from where it is entered, and the scan resumes after
# it, so a branch entered at the command would step over an address or an email in the
# arguments before the flag ("mysql -h 10.0.0.5 -u jane@example.com -p..."). The command is
# looked for on the line before the flag instead (``_after_other_flags``).
_CLIENT_FLAGS: Final = {
    # name: (commands, the flag as written, what may join it to its value)
    "mysql": (("mysql", "mariadb"), ("-p",), ""),
    "redis": (("redis-cli",), ("-a", "--pass"), "[ \t]+"),
    "sshpass": (("sshpass",), ("-p",), "[ \t]*"),
    "mongo": (("mongo",), ("-p",), "[ \t]*"),
    "sqlcmd": (("sqlcmd", "bcp"), ("-P",), "[ \t]*"),
    # Container registries' logins: "docker login -u ci -p S3cr3t registry.example.com".
    "registry": (
        (
            *(f"{tool} login" for tool in ("docker", "podman", "nerdctl", "buildah", "skopeo")),
            *("oras login", "helm registry login"),
        ),
        ("-p",),
        "[ \t]+",
    ),
}


def _client_flag(
    name: str, commands: tuple[str, ...], flags: tuple[str, ...], joiner: str
) -> Alternative:
    branch = f"{name}_password"
    words = "|".join(re.escape(command) for command in commands)
    spelled = "|".join(re.escape(flag) for flag in flags)
    return Alternative(
        branch,
        KIND_PASSWORD,
        "[ ]",
        rf" (?:{spelled}){joiner}(?=[^\s-])" + _VALUE.format(name=branch),
        value_groups=_groups(branch),
        validate=_after_other_flags(words, f"(?:{spelled}){joiner}"),
        # A flag starts a shell word: " -p" ("-pthread" in a compiler's flags is checked, and
        # refused, for want of a client on its line).
        keywords=tuple(f" {flag}" for flag in flags),
        after_keyword=r"[^ \t\n\-]" if not joiner else r"[ \t]*[^ \t\n\-]",
    )


PASSWORD_FORM_ALTERNATIVES: Final = (
    # Clients whose flag takes the password, after a space or glued (see _CLIENT_FLAGS).
    *(_client_flag(name, *spelling) for name, spelling in _CLIENT_FLAGS.items()),
    # curl's "-u user:S3cr3t" (or "--user"): Basic credentials, the user with the password (an
    # email as the user is in the match); "-u user" alone prompts. Entered at the flag.
    Alternative(
        "curl_password",
        KIND_PASSWORD,
        "[ ]",
        r" (?:-u|--user)(?:[ \t]+|=)"
        r"(?:\"(?P<curl_password_q>[^\s:\"]*:[^\"\r\n]{1,256})\""
        r"|'(?P<curl_password_s>[^\s:']*:[^'\r\n]{1,256})'"
        r"|(?P<curl_password_v>[^\s:\"']*:[^\s\"']{1,256}))",
        value_groups=_groups("curl_password"),
        validate=_curl_credentials,
        keywords=(" -u", " --user"),
        after_keyword=r"[ \t=]",
    ),
    # "--admin-password S3cr3t": a flag naming a password, then its value after a space ("=" is
    # kv_password's). "--password-stdin" is another flag.
    Alternative(
        "flag_password",
        KIND_PASSWORD,
        "[Pp]",
        r"(?<=-)(?i:password)[ \t]+(?=[^\s-])" + _VALUE.format(name="flag_password"),
        value_groups=_groups("flag_password"),
        validate=_flag_value,
        keywords=("password",),
        after_keyword=r"[ \t]",
    ),
    # "<password>S3cr3t</password>", "<db.password>", "<adminPassword>": an element's text.
    Alternative(
        "element_password",
        KIND_PASSWORD,
        "[Pp]",
        r"(?i:password)>[ \t]*(?P<element_password_v>[^<\s](?:[^<\r\n]{0,254}[^<\s])?)[ \t]*"
        r"</[A-Za-z0-9_.:\-]*(?i:password)>",
        value_groups=("element_password_v",),
        validate=_element_value,
        keywords=("password>",),
    ),
    # '"pass": "S3cr3t"': a quoted key, as JSON or a dict literal quotes it inside text.
    Alternative(
        "quoted_pass",
        KIND_PASSWORD,
        "[\"']",
        r"[\"'](?<![\w\\].)(?i:pass)[\"'][ \t]*(?:=>|[=:])[ \t]*"
        + _VALUE.format(name="quoted_pass"),
        value_groups=_groups("quoted_pass"),
        validate=_shaped_value,
        keywords=('"pass"', "'pass'"),
    ),
    # Oracle's connect strings after its clients or CONNECT: "sqlplus scott/T1ger@orcl",
    # "sqlplus -s app/S3cr3t@//db:1521/ORCL", "rman target sys/S3cr3t@prod", 'sqlplus
    # "app/p@ss#1"@db' (quoted, the password runs to the quote), "CONNECT system/S3cr3t@pdb1".
    # The password sits between the user's "/" and the "@"; only after these words, since
    # "lodash/fp@4.17.21" is a package. After CONNECT, prose's words too ("connect to/from@x"):
    # there a password's shape.
    *(
        Alternative(
            f"oracle_{name}",
            KIND_PASSWORD,
            "[A-Za-z]",
            rf"(?<![\w\-.])(?i:{words})(?:[ \t]+(?:-[A-Za-z]+|(?i:target|auxiliary|catalog)))*[ \t]+"
            rf"(?:\"[A-Za-z][A-Za-z0-9_$#]{{0,127}}/(?P<oracle_{name}_q>[^\"\r\n]{{1,128}})\"@"
            rf"|[A-Za-z][A-Za-z0-9_$#]{{0,127}}/(?P<oracle_{name}_v>[^\s/@\"']{{1,128}})@)",
            value_groups=(f"oracle_{name}_q", f"oracle_{name}_v"),
            validate=validate,
            keywords=keywords,
            after_keyword=r"(?:ect)?(?:[ \t]+[A-Za-z\-]+)*[ \t]+\"?[A-Za-z][A-Za-z0-9_$#]*/",
        )
        for name, words, keywords, validate in (
            (
                "client",
                "sqlplus|sqlldr|expdp|impdp|rman|dgmgrl",
                ("sqlplus", "sqlldr", "expdp", "impdp", "rman", "dgmgrl"),
                _named_value,
            ),
            ("connect", "connect|conn", ("conn",), _shaped_value),
        )
    ),
    # "db_pass=S3cr3t", "DB_PASS: S3cr3t", "smtp.pass = 'S3cr3t'": "pass" ends a longer key.
    Alternative(
        "kv_pass",
        KIND_PASSWORD,
        "[_.]",
        r"[_.](?<=[A-Za-z0-9][_.])(?i:pass)[\"']?[ \t]*(?:=>|:=|[=:](?!=))[ \t]*"
        + _VALUE.format(name="kv_pass"),
        value_groups=_groups("kv_pass"),
        validate=_shaped_value,
        keywords=("_pass", ".pass"),
        after_keyword=r"[\"']?[ \t]*[=:]",
    ),
    # "export PASS=S3cr3t", "pw: S3cr3t", "PW=S3cr3t": short keys of their own. A bare "pass" only
    # with "=" ("PASS: test_x" is a test result) or after what it opens ("db pass: S3cr3t",
    # "wifi pass: ..."), "pw" with either.
    Alternative(
        "kv_short_pass",
        KIND_PASSWORD,
        "[Pp]",
        r"(?<![A-Za-z0-9_.\-])(?:(?i:pass)[ \t]*=(?!=)|"
        + _AFTER_WHAT_IT_OPENS
        + r"(?i:pass)[ \t]*:|(?i:pw)[\"']?[ \t]*[=:](?!=))[ \t]*"
        + _VALUE.format(name="kv_short_pass"),
        value_groups=_groups("kv_short_pass"),
        validate=_shaped_value,
        keywords=("pass", "pw"),
        after_keyword=r"[\"']?[ \t]*[=:]",
    ),
    # The word for password in other languages, as a key or told: "Passwort: S3cr3t", "mot de
    # passe = S3cr3t", "contraseña: S3cr3t", "mein Passwort ist S3cr3t", "minha senha é S3cr3t".
    # Written in ASCII letters (the compiled scan reads ASCII); a value shaped like a password,
    # since these are words of prose too ("das Passwort ist falsch").
    Alternative(
        "kv_password_word",
        KIND_PASSWORD,
        "[PpKkMmCcSsWw]",
        r"(?<![A-Za-z])(?i:"
        + _PASSWORD_WORDS_LATIN
        + r")[\"']?(?:[ \t]*(?:=>|:=|[=:](?!=))|[ \t]+(?i:ist|est|es|era|é|is"
        r"|was|on|je)(?![A-Za-z])[ \t]*:?)[ \t]*" + _VALUE.format(name="kv_password_word"),
        value_groups=_groups("kv_password_word"),
        validate=_shaped_value,
        keywords=(
            *("passwort", "kennwort", "mot de passe", "contrase", "senha"),
            *("wachtwoord", "salasana", "heslo"),
        ),
        after_keyword=r"[^\n]{0,2}(?:[\"']?[ \t]*[=:]|[ \t]+[a-z?]{1,3}[ \t:])",
    ),
    # The word for password in other scripts, as a key or told: "пароль: S3cr3t!9", "密码:
    # S3cr3t!9" (a full-width colon too), "パスワードは S3cr3t!9", "비밀번호: S3cr3t!9", "hasło: S3cr3t!9", "şifre =
    # S3cr3t!9". The compiled scan cannot see these words (``WordFinder`` finds them in texts that
    # are not ASCII); a value shaped like a password, as for the words above.
    Alternative(
        "kv_password_word_script",
        KIND_PASSWORD,
        "[^ ]",
        r"(?:" + "|".join(map(re.escape, _PASSWORD_WORDS_IN_SCRIPTS)) + r")"
        r"[\"']?(?:[ \t]*(?:=>|:=|[=:：](?!=)|[—–-])|[ \t]*(?:是|は|는|은|это)(?![^\W\d_]))[ \t]*"
        + _VALUE.format(name="kv_password_word_script"),
        value_groups=_groups("kv_password_word_script"),
        validate=_shaped_value,
        keywords=_PASSWORD_WORDS_IN_SCRIPTS,
    ),
    # A user and a password pasted as one value after words that say so: "credentials:
    # admin:S3cr3t", "creds = admin/S3cr3t", "login: admin / S3cr3t", "user/pass: admin/S3cr3t".
    Alternative(
        "credential_pair",
        KIND_PASSWORD,
        "[CcLlUu]",
        r"(?<![A-Za-z])(?i:credentials|creds|login|user(?:name)?/pass(?:word)?)"
        r"[\"']?[ \t]*[=:][ \t]*[\"']?"
        r"(?P<credential_pair_v>[^\s:/\"']{1,64}[ \t]?[:/][ \t]?[^\s\"'`<>]{1,128})",
        value_groups=("credential_pair_v",),
        validate=_pair_with_a_password,
        keywords=("credentials", "creds", "login", "user/pass", "username/pass"),
        after_keyword=r"(?:word)?[\"']?[ \t]*[=:]",
    ),
    # requests' and httpx's Basic credentials in code: auth=("admin", "S3cr3t"),
    # HTTPBasicAuth("admin", "S3cr3t"), aiohttp's BasicAuth("admin", "S3cr3t").
    Alternative(
        "auth_pair",
        KIND_PASSWORD,
        "[AaBb]",
        r"(?:(?<![A-Za-z0-9_])(?i:auth)[ \t]*=[ \t]*\(|(?i:basic|digest)(?i:auth)\()[ \t]*"
        r"(?P<auth_pair_v>(?:\"[^\"\r\n]{1,128}\"|'[^'\r\n]{1,128}')[ \t]*,[ \t]*"
        r"(?:\"[^\"\r\n]{1,256}\"|'[^'\r\n]{1,256}'))",
        value_groups=("auth_pair_v",),
        validate=_quoted_pair,
        keywords=("auth", "basicauth", "digestauth"),
        after_keyword=r"[ \t]*[=(]",
    ),
)
