"""The Bicep templates, their parameter files and azure.yaml, checked without a Bicep compiler.

No Bicep compiler installs from the package registries this project may use, so these tests do
what can be done offline: parse every template (pycep, a Python Bicep parser), link modules to
their parameters and outputs the way the compiler would, and cross-check the deployment with the
app itself: the app settings are real settings of shared/config.py, the Key Vault secrets are the
names shared/secrets.py asks for, and each parameter file fits main.bicep. What stays unchecked
here (resource schemas, API versions, a real deployment) is listed in docs/deployment.md.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pycep import BicepParser

from shared.config import AppEnv, DatabaseAuth, Settings, env_name
from shared.secrets import SECRET_SETTINGS

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"
MAIN = INFRA / "main.bicep"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
ENVIRONMENT_FILES = sorted((INFRA / "environments").glob("*.parameters.json"))
PARAMETER_FILES = [INFRA / "main.parameters.json", *ENVIRONMENT_FILES]

#: Built-in role definition ids (Azure built-in roles reference).
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
#: Max user connections of PostgreSQL Flexible Server by compute size (Azure's limits page:
#: max_connections minus the 15 the service reserves).
POSTGRES_MAX_USER_CONNECTIONS = {
    "Standard_B1ms": 35,
    "Standard_B2s": 414,
    "Standard_B2ms": 844,
    "Standard_D2ds_v5": 844,
    "Standard_D4ds_v5": 1703,
}
#: App settings the platform reads (not shared/config.py).
PLATFORM_SETTINGS = {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__queueServiceUri"}
#: Settings Flex Consumption refuses or that would bring back a connection string.
FORBIDDEN_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "AzureWebJobsStorage",
    "AZURE_STORAGE_CONNECTION_STRING",
}
SECRET_LOOKING = re.compile(
    r"AccountKey=|SharedAccessSignature=|[?&]sig=|-----BEGIN|://[^/\s:@]+:[^@\s]+@|"
    r"InstrumentationKey=[0-9a-f-]{36}",
    re.IGNORECASE,
)
INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


# -- reading the templates ---------------------------------------------------------------------


@cache
def bicep(path: Path) -> dict[str, Any]:
    # pycep declares a TypedDict of the top level; these tests walk the tree as plain JSON.
    return cast(dict[str, Any], BicepParser().parse(file_path=path))


def section(path: Path, name: str) -> dict[str, Any]:
    return bicep(path).get(name) or {}


def decorators(declaration: dict[str, Any]) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in declaration.get("decorators", [])}


def is_secure(declaration: dict[str, Any]) -> bool:
    return "secure" in decorators(declaration)


def required_params(path: Path) -> set[str]:
    return {name for name, p in section(path, "parameters").items() if p.get("default") is None}


def accessor_chain(node: Any) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None when the node is not a plain property access."""
    if isinstance(node, str):
        return [node]
    operator = node.get("operator", {}) if isinstance(node, dict) else {}
    # A template's own `operator` property (a log alert's 'GreaterThan') is a plain string.
    if not isinstance(operator, dict) or operator.get("type") != "property_accessor":
        return None
    head = operator["operands"]["operand_1"]
    tail = accessor_chain(operator["operands"]["operand_2"])
    return [head, *tail] if isinstance(head, str) and tail else None


def walk(node: Any):
    """Every dict, list and string inside a parsed template."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def module_path(owner: Path, module: dict[str, Any]) -> Path:
    return (owner.parent / module["detail"]["path"]).resolve()


def module_config(module: dict[str, Any]) -> dict[str, Any]:
    """A module's body; conditional (`= if (...)`) and loop (`= [for ...]`) modules nest it."""
    config = module["config"]
    return cast(dict[str, Any], config if "params" in config else config["config"])


def module_output_references(path: Path) -> set[tuple[str, str]]:
    """(module symbol, output name) for every `<module>.outputs.<name>` the template reads."""
    modules = section(path, "modules")
    found: set[tuple[str, str]] = set()
    for node in walk(bicep(path)):
        chains = []
        if isinstance(node, dict):
            chains.append(accessor_chain(node))
        elif isinstance(node, str):
            chains += [expr.split(".") for expr in INTERPOLATION.findall(node)]
        for chain in chains:
            if chain and len(chain) >= 3 and chain[0] in modules and chain[1] == "outputs":
                found.add((chain[0], chain[2]))
    return found


def literal_strings(path: Path) -> list[str]:
    """Every quoted string literal of a template (read from the text: the parser does not mark
    which values were quoted)."""
    return re.findall(r"'((?:[^'\\]|\\.)*)'", path.read_text(encoding="utf-8"))


def app_settings() -> dict[str, Any]:
    """The app settings of app/appsettings.bicep: every key any branch can set.

    Its variables are setting objects, or conditionals choosing between two of them.
    """
    variables = section(INFRA / "app" / "appsettings.bicep", "variables")
    settings: dict[str, Any] = {}
    for variable in variables.values():
        value = variable["value"]
        operator = value.get("operator", {})
        if operator.get("type") == "conditional":
            branches = [operator["operands"]["true_value"], operator["operands"]["false_value"]]
        else:
            branches = [value]
        for branch in branches:
            assert isinstance(branch, dict)
            assert not {"operator", "function"} & set(branch)
            settings.update(branch)
    return settings


def parameter_file(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def config_setting_names() -> set[str]:
    return {env_name(field) for field in Settings.model_fields}


# -- every template parses and links -----------------------------------------------------------


def test_the_infra_has_the_expected_templates() -> None:
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert {"main.bicep", "app/api.bicep", "app/appsettings.bicep", "app/rbac.bicep"} <= names
    assert section(MAIN, "globals")["scope"]["value"] == "subscription"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_template_parses_completely(path: Path) -> None:
    parsed = bicep(path)
    # The parser skips what it cannot place: compare with the declarations in the text.
    text = path.read_text(encoding="utf-8")
    for keyword, name in [
        ("resource", "resources"),
        ("module", "modules"),
        ("param", "parameters"),
    ]:
        declared = re.findall(rf"^\s*{keyword}\s+(\w+)\s", text, re.MULTILINE)
        # Nested resources come out as "<parent>__<child>".
        seen = [symbol.split("__")[-1] for symbol in parsed.get(name) or {}]
        assert sorted(declared) == sorted(seen), keyword


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_modules_get_exactly_the_parameters_they_declare(path: Path) -> None:
    for symbol, module in section(path, "modules").items():
        assert module["type"] == "local", f"{symbol}: registry modules need the network"
        target = module_path(path, module)
        assert target.is_file(), f"{symbol}: {target} is missing"
        passed = set(module_config(module).get("params", {}))
        declared = set(section(target, "parameters"))
        assert passed <= declared, f"{symbol} passes unknown parameters {passed - declared}"
        missing = required_params(target) - passed
        assert not missing, f"{symbol} leaves required parameters unset: {missing}"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_module_outputs_that_are_read_exist(path: Path) -> None:
    modules = section(path, "modules")
    for symbol, output in module_output_references(path):
        outputs = section(module_path(path, modules[symbol]), "outputs")
        assert output in outputs, f"{symbol}.outputs.{output} is not an output of the module"


def test_the_output_walker_sees_main_bicep_references() -> None:
    # Guards the walker itself: main.bicep reads these, in expressions and interpolations.
    refs = module_output_references(MAIN)
    assert ("api", "principalId") in refs
    assert ("api", "defaultHostName") in refs  # inside 'https://${...}'


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_secure_parameters_have_no_default_but_empty(path: Path) -> None:
    for name, param in section(path, "parameters").items():
        if is_secure(param):
            assert param.get("default") in (None, ""), f"{name} carries a secret default"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_no_secret_looking_literal_in_templates(path: Path) -> None:
    for literal in literal_strings(path):
        assert not SECRET_LOOKING.search(literal), f"{path.name}: {literal!r}"


# -- parameter files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", PARAMETER_FILES, ids=lambda p: p.name)
def test_parameter_files_fit_main_bicep(path: Path) -> None:
    document = parameter_file(path)
    declared = section(MAIN, "parameters")

    assert document["$schema"].endswith("/deploymentParameters.json#")
    assert document["contentVersion"] == "1.0.0.0"
    given = document["parameters"]
    assert set(given) <= set(declared), f"unknown parameters {set(given) - set(declared)}"
    for name, entry in given.items():
        assert set(entry) == {"value"}, f"{name}: only plain values (no Key Vault references)"
        allowed = decorators(declared[name]).get("allowed")
        value = entry["value"]
        if allowed and not INTERPOLATION.search(str(value)):
            assert value in allowed, f"{name}={value!r} is not one of {allowed}"
    # Everything required is given, except the secure parameters supplied at deployment time.
    required = {n for n in required_params(MAIN) if not is_secure(declared[n])}
    assert required <= set(given), f"{path.name} misses {required - set(given)}"


@pytest.mark.parametrize("path", PARAMETER_FILES, ids=lambda p: p.name)
def test_parameter_files_hold_no_secret(path: Path) -> None:
    declared = section(MAIN, "parameters")
    document = parameter_file(path)
    secure = {name for name, p in declared.items() if is_secure(p)}

    assert not secure & set(document["parameters"]), "secure parameters belong to no file"
    assert not SECRET_LOOKING.search(path.read_text(encoding="utf-8"))


def test_secrets_are_secure_parameters() -> None:
    declared = section(MAIN, "parameters")
    for name in ("postgresAdminPassword", "jwtSecret", "azureOpenAiApiKey"):
        assert is_secure(declared[name]), name
    assert decorators(declared["jwtSecret"])["min_length"] >= 32  # production refuses shorter


def test_one_parameter_file_per_app_environment() -> None:
    environments = {p.name.removesuffix(".parameters.json"): p for p in ENVIRONMENT_FILES}
    assert set(environments) == {env.value for env in AppEnv}
    names = set()
    for env, path in environments.items():
        values = {k: v["value"] for k, v in parameter_file(path)["parameters"].items()}
        assert values["appEnv"] == env
        names.add(values["environmentName"])
    assert len(names) == len(environments), "each environment needs its own resource group"


def test_azd_parameters_come_from_the_azd_environment() -> None:
    values = {
        k: v["value"]
        for k, v in parameter_file(INFRA / "main.parameters.json")["parameters"].items()
    }
    assert values["environmentName"] == "${AZURE_ENV_NAME}"
    assert values["location"] == "${AZURE_LOCATION}"
    assert values["principalId"] == "${AZURE_PRINCIPAL_ID}"


def test_environment_sizes_cover_every_app_environment_and_fit_the_database() -> None:
    variables = section(MAIN, "variables")
    sizes = variables["environmentSizes"]["value"]
    assert set(sizes) == {env.value for env in AppEnv}
    assert set(decorators(section(MAIN, "parameters")["appEnv"])["allowed"]) == set(sizes)
    for env, size in sizes.items():
        connections = size["maximumInstanceCount"] * size["dbPoolMax"]
        limit = POSTGRES_MAX_USER_CONNECTIONS[size["postgresSkuName"]]
        assert connections <= limit, f"{env}: {connections} pooled connections > {limit}"
        assert size["dbPoolMax"] <= Settings.model_fields["db_pool_max"].metadata[-1].le
    assert sizes["production"]["keyVaultPurgeProtection"] is True
    assert sizes["production"]["postgresHighAvailability"] == "ZoneRedundant"


# -- the resources the issue asks for ----------------------------------------------------------


def resource(path: str, symbol: str) -> dict[str, Any]:
    return section(INFRA / path, "resources")[symbol]


def test_function_app_runs_python_311_on_flex_consumption_with_its_own_identity() -> None:
    plan = resource("core/host/flex-consumption-plan.bicep", "plan")
    site = resource("app/api.bicep", "functionApp")
    config = site["config"]
    app_config = config["properties"]["functionAppConfig"]

    assert plan["config"]["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["config"]["properties"]["reserved"] is True
    assert config["kind"] == "functionapp,linux"
    assert config["identity"] == {"type": "SystemAssigned"}
    assert config["properties"]["httpsOnly"] is True
    assert app_config["runtime"] == {"name": "python", "version": "3.11"}
    storage = app_config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {"type": "SystemAssignedIdentity"}
    assert set(app_config["scaleAndConcurrency"]) == {
        "instanceMemoryMB",
        "maximumInstanceCount",
        "alwaysReady",
    }


def test_postgres_keeps_35_days_of_geo_redundant_backups() -> None:
    path = INFRA / "core/database/postgresql-flexible-server.bicep"
    params = section(path, "parameters")
    backup = resource("core/database/postgresql-flexible-server.bicep", "server")["config"][
        "properties"
    ]["backup"]

    assert backup == {
        "backupRetentionDays": "backupRetentionDays",
        "geoRedundantBackup": "geoRedundantBackup",
    }
    assert params["backupRetentionDays"]["default"] == 35
    assert params["geoRedundantBackup"]["default"] == "Enabled"
    # main.bicep keeps the defaults (and so does no other caller).
    for path_ in BICEP_FILES:
        for module in section(path_, "modules").values():
            if module_path(path_, module) == path.resolve():
                overridden = {"backupRetentionDays", "geoRedundantBackup"}
                assert not overridden & set(module_config(module)["params"])


def test_key_vault_uses_rbac_and_keeps_deleted_secrets() -> None:
    vault = resource("core/security/keyvault.bicep", "vault")["config"]["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enableSoftDelete"] is True
    assert "accessPolicies" not in vault


def test_application_insights_is_workspace_based() -> None:
    components = resource("core/monitor/monitoring.bicep", "applicationInsights")["config"]
    workspace = resource("core/monitor/monitoring.bicep", "logAnalytics")
    assert workspace["type"] == "Microsoft.OperationalInsights/workspaces"
    assert accessor_chain(components["properties"]["WorkspaceResourceId"]) == ["logAnalytics", "id"]


def test_storage_is_reached_by_identity_only_and_has_the_app_containers() -> None:
    account = resource("core/storage/storage-account.bicep", "storage")["config"]["properties"]
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False

    variables = {k: v["value"] for k, v in section(MAIN, "variables").items()}
    containers = section(MAIN, "modules")["storage"]["config"]["params"]["containers"]
    created = {variables[symbol] for symbol in containers if symbol != "deploymentContainerName"}
    assert "deploymentContainerName" in containers
    # XGBOOST_MODEL_PATH is "<container>/<prefix>", BACKUP_CONTAINER a container: both exist.
    model_container = INTERPOLATION.sub(
        lambda m: variables[m.group(1)], variables["modelPath"]
    ).split("/")[0]
    assert model_container in created
    assert variables["backupsContainerName"] in created


def granted_roles() -> set[tuple[str, str, str]]:
    """(principal parameter, role key, scope symbol) of every role assignment of app/rbac.bicep."""
    granted = set()
    for assignment in section(INFRA / "app" / "rbac.bicep", "resources").values():
        if assignment["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        config = assignment["config"].get("config", assignment["config"])  # conditional ones nest
        props = config["properties"]
        role = props["roleDefinitionId"]["function"]["parameters"]
        role_key = accessor_chain(next(v for k, v in role.items() if k != "resource_type"))
        assert role_key is not None
        # No scope: the module's resource group.
        granted.add((props["principalId"], role_key[-1], config.get("scope", "resourceGroup")))
    return granted


def test_the_identity_holds_key_vault_secrets_user_and_storage_blob_data_owner() -> None:
    roles = section(INFRA / "app" / "rbac.bicep", "variables")["roles"]["value"]
    assert roles["storageBlobDataOwner"] == STORAGE_BLOB_DATA_OWNER
    assert roles["keyVaultSecretsUser"] == KEY_VAULT_SECRETS_USER

    granted = granted_roles()
    assert ("appPrincipalId", "storageBlobDataOwner", "storage") in granted
    assert ("appPrincipalId", "keyVaultSecretsUser", "vault") in granted


def test_the_backup_queue_exists_and_the_app_and_its_host_reach_it_with_the_identity() -> None:
    roles = section(INFRA / "app" / "rbac.bicep", "variables")["roles"]["value"]
    assert roles["storageQueueDataContributor"] == "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
    assert ("appPrincipalId", "storageQueueDataContributor", "storage") in granted_roles()
    settings = app_settings()
    # The queue triggers resolve %BACKUP_QUEUE%; the host and the app find the queue service.
    for name in ("BACKUP_QUEUE", "STORAGE_QUEUE_URL", "AzureWebJobsStorage__queueServiceUri"):
        assert name in settings, name
    text = MAIN.read_text(encoding="utf-8")
    assert "var backupQueueName = 'backup-jobs'" in text
    assert "'${backupQueueName}-poison'" in text


# -- the app's own names -----------------------------------------------------------------------


def test_key_vault_secrets_are_the_names_the_app_reads() -> None:
    secrets = [
        r["config"].get("config", r["config"])["name"]
        for r in section(INFRA / "app" / "secrets.bicep", "resources").values()
        if r["type"] == "Microsoft.KeyVault/vaults/secrets"
    ]
    # DatabaseOwnerURL (the server admin, migration 0006) is read by the pipeline, never the app.
    assert set(secrets) <= set(SECRET_SETTINGS) | {"DatabaseOwnerURL"}
    assert {"DatabaseURL", "DatabaseOwnerURL", "AzureOpenaiKey", "JwtSecret"} <= set(secrets)


def test_app_settings_are_settings_of_the_app_or_the_platform() -> None:
    settings = app_settings()
    known = config_setting_names() | PLATFORM_SETTINGS

    assert set(settings) <= known, f"unknown settings {set(settings) - known}"
    assert not set(settings) & FORBIDDEN_SETTINGS
    # What production refuses to start without, and what the identity-based design needs.
    for name in ("APP_ENV", "KEY_VAULT_URL", "STORAGE_ACCOUNT_URL", "ALLOWED_HOSTS"):
        assert name in settings, name
    assert "AzureWebJobsStorage__accountName" in settings
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings


def test_timer_schedule_settings_exist() -> None:
    # A timer written as %NAME% fails to index when the app setting is missing. API.md names
    # nightly_backup's %BACKUP_SCHEDULE%; the others are found in the source.
    names = {"BACKUP_SCHEDULE"}
    for source in (REPO_ROOT / "functions").glob("*.py"):
        names |= set(re.findall(r"""["']%(\w+)%["']""", source.read_text(encoding="utf-8")))
    assert names <= set(app_settings()), names - set(app_settings())


def test_secret_settings_are_key_vault_references_to_their_own_secret() -> None:
    """DATABASE_URL -> Key Vault DatabaseURL, and so on, followed through main.bicep."""
    settings = app_settings()
    main_params = section(MAIN, "modules")["appSettings"]["config"]["params"]
    secrets_path = INFRA / "app" / "secrets.bicep"
    secret_outputs = section(secrets_path, "outputs")
    secret_resources = section(secrets_path, "resources")
    referenced = set()

    for setting, value in settings.items():
        if not (isinstance(value, str) and value.startswith("@Microsoft.KeyVault(")):
            continue
        reference = re.fullmatch(r"@Microsoft\.KeyVault\(SecretUri=\$\{(\w+)\}\)", value)
        assert reference is not None
        param_chain = accessor_chain(main_params[reference.group(1)])
        assert param_chain is not None
        module, _, output = param_chain
        assert module == "secrets"
        uri = secret_outputs[output]["value"]
        if "operator" in uri and uri["operator"]["type"] == "conditional":
            uri = uri["operator"]["operands"]["false_value"]
        uri_chain = accessor_chain(uri)
        assert uri_chain is not None
        symbol, *rest = uri_chain
        assert rest == ["properties", "secretUri"]
        secret = secret_resources[symbol]["config"]
        secret_name = secret.get("config", secret)["name"]
        fields = SECRET_SETTINGS[secret_name]
        assert setting == env_name(fields[0]), f"{setting} points at {secret_name}"
        referenced.add(setting)

    assert referenced == {
        "DATABASE_URL",
        "JWT_SECRET",
        "AZURE_OPENAI_API_KEY",
        "BACKUP_SIGNING_KEY",
    }


# -- azd and the package -----------------------------------------------------------------------


def test_azure_yaml_deploys_the_repository_root_as_a_python_function() -> None:
    project = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))

    assert project["infra"]["provider"] == "bicep"
    assert (REPO_ROOT / project["infra"]["path"] / f"{project['infra']['module']}.bicep").is_file()
    (service_name, service), *_ = project["services"].items()
    assert len(project["services"]) == 1
    assert service["host"] == "function"
    assert service["language"] == "python"
    root = REPO_ROOT / service["project"]
    assert (root / "function_app.py").is_file()
    assert (root / "host.json").is_file()
    # azd finds the app by this tag.
    tags = section(MAIN, "modules")["api"]["config"]["params"]["tags"]["function"]["parameters"]
    assert tags["arg_2"] == {"'azd-service-name'": service_name}


def test_the_package_leaves_out_the_deployment_tooling() -> None:
    ignored = set((REPO_ROOT / ".funcignore").read_text(encoding="utf-8").split())
    assert {"infra/", "scripts/", "docs/", ".github/", "tests/"} <= ignored


# -- operations that hold in Azure (issue 15) -------------------------------------------------

ALERTS = INFRA / "core" / "monitor" / "alerts.bicep"
LOG_ARCHIVE = INFRA / "core" / "monitor" / "log-archive.bicep"
POSTGRES = INFRA / "core" / "database" / "postgresql-flexible-server.bicep"
RUNBOOK = REPO_ROOT / "docs" / "operations.md"
#: Built-in role definition ids (Azure built-in roles reference).
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def variable(path: Path, name: str) -> Any:
    return section(path, "variables")[name]["value"]


def interpolate(text: str, path: Path) -> str:
    """`${thresholds.x}` and `${eventFields}` of alerts.bicep filled in from its variables."""

    def value(match: re.Match[str]) -> str:
        head, *rest = match.group(1).split(".")
        found: Any = variable(path, head) if head in section(path, "variables") else match.group(0)
        for key in rest:
            found = found[key]
        return str(found)

    return INTERPOLATION.sub(value, text)


def log_alerts() -> dict[str, dict[str, Any]]:
    return {rule["name"]: rule for rule in variable(ALERTS, "logAlerts")}


def app_source_text() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8")
        for folder in ("shared", "functions")
        for p in (REPO_ROOT / folder).rglob("*.py")
    )


def test_an_availability_test_gets_health_every_5_minutes_from_several_locations() -> None:
    test = resource("core/monitor/alerts.bicep", "healthTest")
    props = test["config"]["properties"]

    assert test["type"] == "Microsoft.Insights/webtests"
    assert test["config"]["kind"] == props["Kind"] == "standard"
    assert props["Request"]["RequestUrl"] == "${appUrl}/health"
    assert props["Request"]["HttpVerb"] == "GET"
    assert props["Frequency"] == 300
    assert props["ValidationRules"]["ExpectedHttpStatusCode"] == 200
    assert len(set(variable(ALERTS, "testLocations"))) >= 3
    # main.bicep points it at the deployed app.
    params = module_config(section(MAIN, "modules")["alerts"])["params"]
    assert params["appUrl"] == "https://${api.outputs.defaultHostName}"


def test_metric_alerts_have_the_runbooks_thresholds() -> None:
    thresholds = variable(ALERTS, "thresholds")
    availability = resource("core/monitor/alerts.bicep", "availabilityAlert")["config"]
    response = resource("core/monitor/alerts.bicep", "responseTimeAlert")["config"]

    criteria = availability["properties"]["criteria"]
    assert criteria["'odata.type'"] == "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria"
    assert accessor_chain(criteria["webTestId"]) == ["healthTest", "id"]
    assert thresholds["failedLocations"] >= 1

    (duration,) = response["properties"]["criteria"]["allOf"]
    assert duration["metricName"] == "requests/duration"
    assert duration["timeAggregation"] == "Average"
    assert duration["operator"] == "GreaterThan"
    assert accessor_chain(duration["threshold"]) == ["thresholds", "averageResponseMs"]
    assert thresholds["averageResponseMs"] == 500
    assert response["properties"]["windowSize"] == "PT15M"


def test_log_alerts_have_the_runbooks_thresholds_and_windows() -> None:
    thresholds = variable(ALERTS, "thresholds")
    rules = log_alerts()

    assert set(rules) == {
        "error-rate",
        "incremental-backup-missing",
        "full-backup-missing",
        "restore-drill-failed",
    }
    error_rate = rules["error-rate"]
    assert error_rate["windowSize"] == "PT5M"
    assert thresholds["errorRatePercent"] == 1
    assert "resultCode) >= 500" in error_rate["query"]
    assert error_rate["operator"] == "GreaterThan"

    incremental = rules["incremental-backup-missing"]
    assert thresholds["incrementalBackupMinutes"] == 30
    assert incremental["windowSize"] == "PT30M"
    assert (incremental["operator"], incremental["threshold"]) == ("LessThan", 1)

    full = rules["full-backup-missing"]
    assert thresholds["fullBackupHours"] == 26
    assert "ago(26h)" in interpolate(full["query"], ALERTS)
    # Any full backup counts, not only the nightly timer's.
    assert 'event == "backup_succeeded" and kind == "full"' in full["query"]
    assert (full["operator"], full["threshold"]) == ("LessThan", 1)

    drill = rules["restore-drill-failed"]
    assert thresholds["restoreDrillRtoSeconds"] == 3600
    query = interpolate(drill["query"], ALERTS)
    assert 'status == "failed" or rto_seconds > 3600' in query
    assert (drill["operator"], drill["threshold"]) == ("GreaterThan", 0)


def test_log_alerts_query_events_the_app_writes() -> None:
    source = app_source_text()
    for name, rule in log_alerts().items():
        query = interpolate(rule["query"], ALERTS)
        events = set(re.findall(r'event == "(\w+)"', query))
        assert events or name == "error-rate", name
        for event in events:
            assert f'"{event}"' in source, f"{name}: the app never logs {event}"
        assert rule["metricMeasureColumn"] in query, name


def test_every_alert_notifies_the_one_action_group() -> None:
    resources = section(ALERTS, "resources")
    group = resources["actionGroup"]["config"]["properties"]
    webhook = section(ALERTS, "parameters")["alertWebhookUrl"]
    main_webhook = section(MAIN, "parameters")["alertWebhookUrl"]

    assert "emailReceivers" in group
    assert "webhookReceivers" in group
    # A webhook URL carries a token.
    assert is_secure(webhook)
    assert is_secure(main_webhook)
    for symbol in ("availabilityAlert", "responseTimeAlert"):
        (action,) = resources[symbol]["config"]["properties"]["actions"]
        assert accessor_chain(action["actionGroupId"]) == ["actionGroup", "id"]
    rules = resources["logAlertRules"]["config"]["config"]["properties"]
    assert rules["actions"] == "actions"
    assert [accessor_chain(a) for a in variable(ALERTS, "actions")["actionGroups"]] == [
        ["actionGroup", "id"]
    ]


def test_the_runbook_describes_the_deployed_alerts() -> None:
    runbook = RUNBOOK.read_text(encoding="utf-8")
    alerts_section = runbook.split("### Alerts (deployed)", 1)[1].split("\n## ", 1)[0]
    for name in log_alerts():
        assert f"`{name}`" in alerts_section, name
    for name in ("availability", "response-time"):
        assert f"`{name}`" in alerts_section, name
    for figure in ("1 %", "500 ms", "30 minutes", "26 hours", "1 hour", "5 minutes"):
        assert figure in alerts_section, figure
    assert "Suggested alerts" not in runbook, "the runbook describes what is deployed"


def test_pg_stat_statements_is_allowed_preloaded_and_slow_statements_logged() -> None:
    parameters = {p["name"]: p["value"] for p in variable(POSTGRES, "serverParameters")}
    loop = resource("core/database/postgresql-flexible-server.bicep", "parameters")

    assert "PG_STAT_STATEMENTS" in parameters["azure.extensions"].split(",")
    assert "pg_stat_statements" in parameters["shared_preload_libraries"].split(",")
    assert parameters["log_min_duration_statement"] == "500"
    assert loop["type"] == "Microsoft.DBforPostgreSQL/flexibleServers/configurations"
    assert decorators(loop) == {"batchSize": 1}, "the server takes one change at a time"


def test_operators_can_reach_the_backups_and_restore() -> None:
    roles = variable(INFRA / "app" / "rbac.bicep", "roles")
    granted = granted_roles()

    assert roles["storageBlobDataReader"] == STORAGE_BLOB_DATA_READER
    assert roles["storageBlobDataContributor"] == STORAGE_BLOB_DATA_CONTRIBUTOR
    assert roles["contributor"] == CONTRIBUTOR
    assert ("operatorsGroupId", "storageBlobDataReader", "backupsContainer") in granted
    assert ("operatorsGroupId", "keyVaultSecretsUser", "vault") in granted
    assert ("operatorsGroupId", "contributor", "resourceGroup") in granted
    # The pipeline writes the pre-migration backup.
    assert ("deployPrincipalId", "storageBlobDataContributor", "backupsContainer") in granted
    params = module_config(section(MAIN, "modules")["rbac"])["params"]
    assert params["operatorsGroupId"] == "operatorsGroupId"
    assert params["backupContainerName"] == "backupsContainerName"


def environment_values(env: str) -> dict[str, Any]:
    path = INFRA / "environments" / f"{env}.parameters.json"
    return {k: v["value"] for k, v in parameter_file(path)["parameters"].items()}


def test_every_environment_file_says_how_it_is_networked_alerted_and_operated() -> None:
    allowed = decorators(section(MAIN, "parameters")["networkAccess"])["allowed"]
    assert section(MAIN, "parameters")["networkAccess"].get("default") is None
    for env in AppEnv:
        values = environment_values(env.value)
        for name in ("networkAccess", "alertEmail", "operatorsGroupId", "operatorIpRanges"):
            assert name in values, f"{env.value} does not say {name}"
        assert values["networkAccess"] in allowed
    assert environment_values("production")["networkAccess"] == "private"
    # And whatever a parameter says (azd's default is private too).
    either = variable(MAIN, "privateNetwork")["operator"]
    assert either["type"] == "or"
    assert either["operands"]["operand_2"]["operator"]["operands"] == {
        "operand_1": "appEnv",
        "operand_2": "production",
    }
    main_params = parameter_file(INFRA / "main.parameters.json")["parameters"]
    assert main_params["networkAccess"]["value"] == "${NETWORK_ACCESS=private}"
    assert environment_values("production")["alertEmail"]
    assert environment_values("production")["corsAllowedOrigins"].split(",") == [
        "https://neulbomcare.com",
        "https://www.neulbomcare.com",
    ]


def test_private_networking_closes_the_database_and_reaches_each_service_privately() -> None:
    modules = section(MAIN, "modules")
    postgres_params = module_config(modules["postgres"])["params"]
    allow_azure = resource("core/database/postgresql-flexible-server.bicep", "allowAzure")
    subnets = resource("core/network/virtual-network.bicep", "vnet")["config"]["properties"][
        "subnets"
    ]
    endpoints = {e["groupId"]: e for e in variable(MAIN, "privateEndpoints")}

    # AllowAllAzureServices only where the parameter file chose public networking.
    assert allow_azure["config"]["condition"] == "allowAzureServices"
    assert postgres_params["allowAzureServices"]["operator"]["type"] == "not"
    assert modules["network"]["config"]["condition"] == "privateNetwork"
    app_subnet = next(s for s in subnets if s["name"] == "app")
    (delegation,) = app_subnet["properties"]["delegations"]
    assert delegation["properties"]["serviceName"] == "Microsoft.App/environments"
    assert set(endpoints) == {"postgresqlServer", "vault", "blob", "queue", "table"}
    assert endpoints["postgresqlServer"]["dnsZoneName"] == "privatelink.postgres.database.azure.com"
    assert endpoints["vault"]["dnsZoneName"] == "privatelink.vaultcore.azure.net"
    # The app joins the subnet; vault and storage deny the public network by default.
    api_params = module_config(modules["api"])["params"]
    assert accessor_chain(api_params["subnetId"]["operator"]["operands"]["true_value"]) == [
        "network",
        "outputs",
        "appSubnetId",
    ]
    for module in ("storage", "keyVault"):
        assert module_config(modules[module])["params"]["networkDefaultAction"] == (
            "networkDefaultAction"
        )
    assert variable(MAIN, "networkDefaultAction")["operator"]["operands"]["true_value"] == "Deny"
    site = resource("app/api.bicep", "functionApp")["config"]["properties"]
    assert "virtualNetworkSubnetId" in site


def test_production_keeps_an_http_instance_warm_and_connects_within_10_seconds() -> None:
    sizes = variable(MAIN, "environmentSizes")
    always_ready = resource("app/api.bicep", "functionApp")["config"]["properties"][
        "functionAppConfig"
    ]["scaleAndConcurrency"]["alwaysReady"]["operator"]["operands"]["true_value"]

    assert sizes["production"]["alwaysReadyHttpInstances"] >= 1
    assert always_ready == [{"name": "http", "instanceCount": "alwaysReadyHttpInstances"}]
    assert sizes["production"]["dbConnectTimeout"] == 10
    timeout = app_settings()["DB_CONNECT_TIMEOUT"]["function"]
    assert (timeout["type"], timeout["parameters"]["value_to_convert"]) == (
        "string",
        "dbConnectTimeout",
    )
    params = module_config(section(MAIN, "modules")["appSettings"])["params"]
    assert accessor_chain(params["dbConnectTimeout"]) == ["size", "dbConnectTimeout"]


def test_diagnostic_logs_are_archived_past_log_analytics_retention() -> None:
    sizes = variable(MAIN, "environmentSizes")
    resources = section(LOG_ARCHIVE, "resources")
    rule = resources["archive__lifecycle"]["config"]["properties"]["policy"]["rules"][0]
    actions = rule["definition"]["actions"]["baseBlob"]
    settings = {
        r["config"]["scope"]
        for r in resources.values()
        if r["type"] == "Microsoft.Insights/diagnosticSettings"
    }

    assert settings == {"functionApp", "applicationInsights", "vault", "postgres"}
    assert actions["delete"]["daysAfterCreationGreaterThan"] == "archiveRetentionDays"
    assert actions["tierToArchive"]["daysAfterCreationGreaterThan"] == 90
    for env, size in sizes.items():
        assert size["logArchiveDays"] >= size["logRetentionDays"], env
    # Two years in production: as long as the audit log keeps its events.
    assert sizes["production"]["logArchiveDays"] >= 730


def test_production_logs_in_to_postgres_with_microsoft_entra_and_the_apps_identity() -> None:
    """DATABASE_AUTH=entra is the default, and what staging and production deploy; development
    keeps passwords. The server accepts Entra tokens (passwords stay on for the administrator),
    the pipeline's principal is its Entra administrator, and the app logs in as its identity."""
    postgres = INFRA / "core/database/postgresql-flexible-server.bicep"
    declared = section(MAIN, "parameters")["databaseAuth"]
    values = {
        path.name.removesuffix(".parameters.json"): {
            k: v["value"] for k, v in parameter_file(path)["parameters"].items()
        }
        for path in ENVIRONMENT_FILES
    }
    assert declared["default"] == "entra"
    assert set(decorators(declared)["allowed"]) == {auth.value for auth in DatabaseAuth}
    assert values["production"]["databaseAuth"] == "entra"
    assert values["staging"]["databaseAuth"] == "entra"
    assert values["development"]["databaseAuth"] == "password"

    params = module_config(section(MAIN, "modules")["postgres"])["params"]
    equals = params["activeDirectoryAuth"]["operator"]
    assert equals["type"] == "equals"
    assert equals["operands"] == {"operand_1": "databaseAuth", "operand_2": "entra"}
    assert params["entraAdminObjectId"] == "deployPrincipalId"
    auth = resource("core/database/postgresql-flexible-server.bicep", "server")["config"][
        "properties"
    ]["authConfig"]
    assert auth["passwordAuth"] == "Enabled"  # the administrator: migrations, restores
    assert auth["activeDirectoryAuth"]["operator"]["operands"] == {
        "condition": "activeDirectoryAuth",
        "true_value": "Enabled",
        "false_value": "Disabled",
    }
    admin = section(postgres, "resources")["entraAdmin"]
    assert admin["type"] == "Microsoft.DBforPostgreSQL/flexibleServers/administrators"
    assert admin["config"]["config"]["name"] == "entraAdminObjectId"

    settings = app_settings()
    assert {"DATABASE_AUTH", "DATABASE_ENTRA_USER"} <= config_setting_names()
    assert settings["DATABASE_ENTRA_USER"] == "databaseEntraUser"
    app_params = module_config(section(MAIN, "modules")["appSettings"])["params"]
    assert app_params["databaseAuth"] == "databaseAuth"
    assert app_params["databaseEntraUser"] == "functionAppName"  # the identity's name
