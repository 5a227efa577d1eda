"""Passwords in commands, markup and "pass" keys: found in text, in JSON and in JSON inside text;
the same shapes that hold no password (prose, switches, placeholders, test results) are kept."""

from __future__ import annotations

import json

import pytest
from redacting import builtin_redactor, redacted

from otel_flywheel.privacy import Redactor

KEY = b"password-forms-test-key-0123456789"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return builtin_redactor(KEY)


PASSWORDS = [
    # MySQL and MariaDB clients: the password glued to -p
    ("mysql -u root -p{v} -h db orders", "S3cr3tPa55"),
    ("mysql -uroot -p{v}", "hunter"),  # after another flag, even a word
    ("/usr/bin/mysqldump -h db -u app -p{v} app > dump.sql", "Tr0ub4dor&3"),
    ("kubectl exec -it db -- mariadb -u root -p{v} -e 'show databases'", "S3cret!"),
    ("MYSQL -p{v}", "Winter2024"),  # the only flag: a value shaped like a password
    # redis-cli
    ("redis-cli -h cache -a {v} -p 6379 ping", "S3cr3tR"),
    ("redis-cli --pass {v} ping", "hunter22"),
    ("redis-cli -a '{v}' info", "p@ss w0rd"),
    # MongoDB's shells and tools, SQL Server's sqlcmd and bcp
    ("mongosh --host db -u admin -p {v} --authenticationDatabase admin", "S3cr3t!"),
    ("mongodump -u app -p{v} --db orders", "S3cr3t1"),
    ('sqlcmd -S tcp:db,1433 -U sa -P "{v}" -Q "select 1"', "Tr0ub4dor&3"),
    ("bcp dbo.orders out o.dat -S db -U sa -P {v} -c", "hunter"),
    # sshpass, glued or not
    ("sshpass -p '{v}' ssh -o StrictHostKeyChecking=no ec2-user@bastion uptime", "S3cr3t!"),
    ("sshpass -p{v} scp dump.sql root@db:/tmp", "hunter2"),
    # container registries' logins
    ("docker login -u ci -p {v} registry.example.com", "S3cr3t1"),
    ("podman login quay.io -u bot -p '{v}'", "Tr0ub4dor&3"),
    ("helm registry login registry.example.com -u ci -p {v}", "hunter22"),
    # XML settings whose key names a password
    ('<add key="Password" value="{v}"/>', "Tr0ub4dor3"),
    ('<entry key="db.password">{v}</entry>', "S3cr3tPa55"),
    # curl's Basic credentials
    ("curl -u user:{v} https://api.example.com", "a1B2c3D4e5F6"),
    ('curl -s -u "admin:{v}" https://x', "p@ss w0rd"),
    ("curl --user=ci:{v} https://x", "S3cret"),
    ("curl -X POST -u api:{v} https://api.mailgun.net/v3", "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"),
    # a flag naming a password, its value after a space
    ("docker login -u ci --password {v} registry.example.com", "S3cr3t1"),
    ('az vm create -n vm --admin-password "{v}" --size B2s', "Tr0ub4dor&3"),
    ("helm install db bitnami/postgresql --db-password {v}", "pg-Pa55"),
    ("./deploy.sh --smtp-password '{v}'", "Gm4il!pw"),
    # markup
    ("<server><id>repo</id><password>{v}</password></server>", "S3cr3tPa55"),
    ("<Password>{v}</Password>", "hunter2"),
    ("<adminPassword> {v} </adminPassword>", "Tr0ub4dor3"),
    ("<db:password>{v}</db:password>", "changeme2024"),
    # keys that end in "pass"
    ("db_pass={v}", "S3cr3tPa55"),
    ("DB_PASS: {v}", "S3cr3tPa55"),
    ("smtp.pass = '{v}'", "Gm4il!pw"),
    ("export MYSQL_ROOT_PASS={v}", "r00tPW"),
    ('{{"user": "app", "pass": "{v}"}} in the request', "S3cr3tPa55"),
    # short keys of their own: a bare "pass" with "=", "pw" with "=" or ":"
    ("export PASS={v}", "S3cr3t9"),
    ("pw: {v}", "S3cr3t9"),
    ("PW='{v}' ./run.sh", "p@ss!word"),
    # the word for password in other languages, as a key
    ("Passwort: {v}", "S3cr3t!9"),
    ("Kennwort={v}", "Geh31m"),
    ("mot de passe : {v}", "Zx9-abc"),
    ("contraseña: {v}", "Clave2024"),
    ("senha={v}", "S3nh4!"),
    ("wachtwoord: {v}", "Geheim123"),
    # ... and told, as in English ("my password is ...")
    ("mein Passwort ist {v}", "S3cr3t!9"),
    ("mon mot de passe est {v}", "Zx9-abc"),
    ("mi contraseña es {v}", "Clave2024"),
    ("minha senha é {v}", "S3nh4!"),
    ("mijn wachtwoord is {v}", "Geheim123"),
    # ... and in other scripts, which the compiled scan cannot see
    ("пароль: {v}", "S3cr3t!9"),
    ("Пароль — {v}", "Xk9#mq2Lp"),
    ("мой ПАРОЛЬ={v}", "Qw3rty!"),
    ("密码：{v}", "S3cr3t!9"),
    ("数据库密码: {v}", "Db2024pass"),
    ("密碼是 {v}", "Tr0ub4dor&3"),
    ("パスワードは {v}", "Passw0rd!"),
    ("비밀번호: {v}", "S3cr3t!9"),
    ("hasło: {v}", "Haslo#2024"),
    ("Şifre = {v}", "S1fre!9"),
    ("Jelszó: {v}", "Titok#123"),
    ("lösenord: {v}", "Hemligt9"),
    ("mật khẩu: {v}", "MatKhau@1"),
    ("סיסמה: {v}", "S3cr3t!9"),
    # Oracle's connect strings, and "pass" after what it opens
    ("sqlplus scott/{v}@orcl", "T1ger"),
    ("sqlplus -s app/{v}@//db.example.com:1521/ORCL", "S3cr3t"),
    ('sqlplus "app/{v}"@db', "p@ss#1"),
    ("expdp hr/{v}@db schemas=hr", "Hr2024x"),
    ("rman target sys/{v}@prod", "Oracle_1"),
    ("SQL> CONNECT system/{v}@pdb1", "S3cr3t9"),
    ("db pass: {v}", "S3cr3tPw9"),
    ("WiFi pass: {v}", "Gu3st!2024"),
    ("Admin Pass:{v}", "hunter2!"),
    # generated passwords with "(" or "&", unquoted, outside a URL's query
    ("DB_PASSWORD={v}", "Tb(dRNs39KYum"),
    ("password: {v}", "Pa(ss)w0rd!"),
    ("Server=db;Database=x;User Id=sa;Password={v};", "Tb(dRNs39KYum"),
    ("password: {v}", "Gu3st&2024"),
    ("DB_PASSWORD={v}", "Xk9&mQ2Lp7"),
    ("host=db user=app password={v} sslmode=require", "RQE8Jb9b&noj&OU#!"),
    ("DB_PASSWORD={v}", "Vgq_T9Xi(8R!y5#h"),
    # PostgreSQL's password file, and SQL Server's JDBC URL (a port, then properties)
    ("cat ~/.pgpass\ndb.internal:5432:analytics:app:{v}", "Day@3798"),
    ("*:*:*:postgres:{v}", "S3cret9!"),
    ("could not connect: db.internal:5432:orders:app:{v}", "New@1520"),
    ("ValueError: bad request: 'db.internal:5432:orders:app:{v}'", "Check.6870"),
    ("jdbc:sqlserver://db1:1433;databaseName=app;user=sa;password={v};encrypt=true", "Memory@9733"),
    # Go's MySQL DSNs, without a scheme
    ("app:{v}@tcp(db:3306)/orders", "S3cretPw9"),
    ("MYSQL_DSN=app:{v}@tcp(db:3306)/orders", "S3cretPw9"),
    ('dsn := "app:{v}@tcp(127.0.0.1:3306)/orders?parseTime=true"', "p@ss:w0rd"),
    ("root:{v}@unix(/var/run/mysqld/mysqld.sock)/app", "Tr0ub4dor"),
    # Basic credentials in code
    ('requests.get(url, auth=("admin", "{v}"))', "S3cr3t9"),
    ('HTTPBasicAuth("admin", "{v}")', "hunter2"),
    ("aiohttp.BasicAuth('admin', '{v}')", "Tr0ub4dor&3"),
    ('httpx.DigestAuth("u", "{v}")', "correct horse"),
    ("config = {{'user': 'app', 'pass': '{v}'}}", "p@ss!word"),
]


@pytest.mark.parametrize(("template", "password"), PASSWORDS)
def test_a_password_in_a_command_markup_or_pass_key_is_redacted(
    redactor: Redactor, template: str, password: str
) -> None:
    text = template.format(v=password)
    out, counts = redacted(redactor, text)
    assert password not in out, out
    assert counts == {"PASSWORD": 1}, out


@pytest.mark.parametrize(("template", "password"), PASSWORDS)
def test_the_same_forms_are_redacted_in_json_inside_json(
    redactor: Redactor, template: str, password: str
) -> None:
    # A tool's command or a config file as a JSON string, inside an LLM request's messages.
    document = json.dumps({"messages": [{"role": "tool", "content": template.format(v=password)}]})
    out, _ = redacted(redactor, document)
    assert password not in out
    json.loads(out)


@pytest.mark.parametrize(
    ("document", "password"),
    [
        ({"pass": "S3cr3tPa55"}, "S3cr3tPa55"),
        ({"db": {"user": "app", "db_pass": "p@ss!word"}}, "p@ss!word"),
        ({"SMTP_PASS": "Gm4il!pw"}, "Gm4il!pw"),
        ({"ftp-pass": "8fj3k2l1"}, "8fj3k2l1"),
        # the word in other languages and scripts
        ({"Passwort": "S3cr3t!9"}, "S3cr3t!9"),
        ({"db_senha": "S3nh4!x"}, "S3nh4!x"),
        ({"motDePasse": "Zx9-abc1"}, "Zx9-abc1"),
        ({"contraseña": "Clave2024"}, "Clave2024"),
        ({"пароль": "S3cr3t!9"}, "S3cr3t!9"),
        ({"数据库密码": "Db2024pass"}, "Db2024pass"),
        ({"パスワード": "Passw0rd!"}, "Passw0rd!"),
        ({"user": {"hasło": "Haslo#2024"}}, "Haslo#2024"),
    ],
)
def test_a_json_field_named_pass_holding_a_password_is_redacted(
    redactor: Redactor, document: dict[str, object], password: str
) -> None:
    out, counts = redacted(redactor, json.dumps(document))
    assert password not in out
    assert counts == {"PASSWORD": 1}


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("mysql -h 10.20.30.40 -u jane@example.com -pS3cret9 orders", ["IP_ADDRESS", "EMAIL"]),
        ("redis-cli -h 10.20.30.40 -a S3cret9 ping", ["IP_ADDRESS"]),
        ('curl -H "X-Email: jane@example.com" -u ci:S3cret9 https://x', ["EMAIL"]),
        ("sqlcmd -S 10.20.30.40 -U sa -P S3cret9", ["IP_ADDRESS"]),
        ("sshpass -p S3cret9 ssh root@10.20.30.40 uptime", ["IP_ADDRESS"]),
    ],
)
def test_values_in_a_command_s_other_arguments_are_found_too(
    redactor: Redactor, text: str, kinds: list[str]
) -> None:
    # Each branch is entered at its flag: one entered at the command stepped over the arguments.
    out, counts = redacted(redactor, text)
    assert "S3cret9" not in out
    assert "10.20.30.40" not in out
    assert "jane@example.com" not in out
    assert counts == {"PASSWORD": 1, **dict.fromkeys(kinds, 1)}


@pytest.mark.parametrize(
    "text",
    [
        "login: jane@example.com/p4ss!",
        "credentials: jane@example.com:S3cr3tPa55",
        'auth=("jane@example.com", "S3cr3t9")',
        "curl -u jane@example.com:S3cret9 https://x",
    ],
)
def test_a_user_written_with_its_password_goes_with_it(redactor: Redactor, text: str) -> None:
    out, counts = redacted(redactor, text)
    assert "jane@example.com" not in out
    assert counts == {"PASSWORD": 1}


NOT_PASSWORDS = [
    "MySQL is great -pretty fast",  # prose, not a command
    "use mysql to run the -psomething",
    "gcc -pthread -pedantic x.c; echo done | grep -pattern",  # no client on the line
    "mysql -u root | grep -pS3cr3t",  # another command's flag, after a pipe
    "mongo is slow with -p 4 workers",  # prose: the only flag, and a number
    "sqlcmd -S db -U sa -p",  # sqlcmd's -p prints statistics
    "mysqldump -h db -u app -p$PW app; then MySQL is great -pretty",  # flags of another command
    "mysql -u root -p",  # -p alone prompts
    "mysql -u root -p orders",  # ... and "orders" is the database
    "mysql -u root -p$MYSQL_PWD orders",  # a reference
    "mysql://root@db/orders",
    "curl -u admin https://x; curl -u :$TOKEN https://x",  # prompts; a reference
    "sshpass -p $SSHPASS ssh host; sshpass -e ssh host",  # a reference, the environment
    "docker run -p 8080:80 nginx",  # a port, and no login
    "docker login -u ci --password-stdin registry.example.com < token.txt",
    "docker login -u ci -p $REGISTRY_PASSWORD registry.example.com",  # a reference
    '<add key="PasswordLength" value="12"/>',  # a setting about passwords
    "psql -h db -U app --password orders",  # psql's --password is a switch
    "pg_dump --password my_db2 > out.sql",
    "docker login --password-stdin < token.txt",
    "--password ${DB_PASSWORD} and --password '<redacted>'",
    "set --admin-password required",  # a word
    "<password>${db.password}</password> and <password>***</password>",
    "the password> prompt",
    "PASS: test_checkout (12ms); tests: pass=12 fail=0",
    "first_pass: done; second_pass: pending",
    "x.pass = y.pass; req.pass = getpass(); os.pass = 12",
    "bypass=true and compass_pass: north",
    "tests pass=12; pass = True; first pass=done; pw=password; throughput pw: 12 W",
    "pw = [1]*N; db_pass = (a, b1)",  # code: a literal, a tuple
    'auth=(user, pw); auth=("admin", os.environ["PW"]); auth=("admin", "password")',
    'oauth=("a", "b1c2d3")',  # not a Basic pair
    "Passwort: bitte ändern; Das Passwort: muss lang sein; mot de passe : oublié",  # prose
    "Das Passwort ist falsch. Le mot de passe est incorrect. La contraseña es obligatoria.",
    # a package spec, prose after "connect", placeholders, test results
    "npm i lodash/fp@4.17.21 @scope/pkg@1.2.3; connect to/from@x; sqlplus /nolog",
    "sqlplus / as sysdba; sqlplus app/${ORA_PW}@db; conn scott/tiger@orcl",
    "PASS: test_login2; tests pass: 12/12; all pass: yes; bypass: S3cr3t9; compass: N2",
    # prose in other scripts: no separator, or a value that is a word
    "Неверный пароль. Введите пароль: ; пароль изменён; пароль: неверный",
    "密码错误，请重新输入。密码：请输入; パスワードを忘れた場合; 비밀번호를 잊으셨나요?",
    '{"senha": "errada", "Passwort": "falsch", "senha_alterada": "S3cr3t!9", "пароль": "нет"}',
    '{"status": "pass", "first_pass": "done", "pass": "PASS"}',
    # code, where "pass" ends a name: flags, annotations, lists, calls
    "self._prepare_one(obj, first_pass=True, device_placement=d)",
    "def step(self, shrink_pass: ShrinkPass, *, random_order: bool = False) -> bool:",
    "fds_to_pass = [listener.fileno(), alive_r]",
    "util._reprcompare, util._assertion_pass = saved_assert_hooks",
    "peak_memory_after_forward_pass: float, num_pass: 12345",
    '"post_grad_custom_pre_pass": DEFAULT,  # Typing',
    "def _custom_pass_name(custom_pass: Any) -> str:",
    "user_pass = '%s:%s' % (unquote(user), unquote(password))",
    "db_pass = '%(user)s/%(pw)s' % params",
    # calls and subscripts cut at a space or a quote, and a query's next parameter after "&"
    "password=get_password(user, host)",
    'password=os.getenv("DB_PASS")',
    "password = Prompt.ask(",
    'password=SecretStr(os.environ["X"])',
    "password: Annotated[str, Doc('x')]",
    "password: Union[str, None]",
    "https://x/login?user=a&password=${PW}&next=/home",
    # a port between colons that is not a password file's line
    "docker run -p 5432:5432 postgres",
    "listening on 0.0.0.0:5432: ready",
    "x=db:5432:a:b:c",
    '"pattern": "arn:*:.*:.*:[0-9]+:.*"',
    "jdbc:sqlserver://db1:1433;databaseName=app;integratedSecurity=true",
]


@pytest.mark.parametrize("text", NOT_PASSWORDS)
def test_the_same_shapes_without_a_password_are_kept(redactor: Redactor, text: str) -> None:
    out, counts = redacted(redactor, text)
    assert out == text
    assert counts == {}
