// NeulbomCare in Azure: one resource group per environment holding the Function App (Flex
// Consumption, Python 3.11), its Storage account, Key Vault, PostgreSQL Flexible Server and
// Application Insights. `azd up` deploys it with main.parameters.json; operators can also run
// `az deployment sub create` with one of environments/*.parameters.json (docs/deployment.md).
//
// No secret value lives in a file: the PostgreSQL administrator password and the JWT signing key
// (and the optional Azure OpenAI key) are secure parameters, written only into Key Vault.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd environment name); seeds the resource group name and a unique token in every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource: it must offer Flex Consumption and PostgreSQL Flexible Server.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@allowed([
  'development'
  'staging'
  'production'
])
@description('APP_ENV of the Function App: the settings profile of shared/config.py.')
param appEnv string = 'development'

@description('Object id of the person deploying (azd sets AZURE_PRINCIPAL_ID): may manage the vault\'s secrets. Empty for none.')
param principalId string = ''

@description('Object id of the CI/CD service principal (GitHub OIDC): may read the vault\'s secrets, so the pipeline can run migrations. Empty for none.')
param deployPrincipalId string = ''

// -- PostgreSQL --------------------------------------------------------------------------------

@description('Administrator login of the PostgreSQL server.')
param postgresAdminLogin string = 'neulbomadmin'

@secure()
@minLength(12)
@description('Administrator password of the PostgreSQL server. Never in a file: azd prompts for it, or pass it on the command line.')
param postgresAdminPassword string

@description('Login role the Function App connects as: a member of neulbomcare_app (migration 0006), created or updated by `manage.py db-roles` in each deployment. Never the administrator, which only migrations and restores use (Key Vault DatabaseOwnerURL).')
param postgresAppLogin string = 'neulbomcare_api'

@secure()
@minLength(16)
@description('Password of postgresAppLogin, inside Key Vault DatabaseURL. Never in a file: azd prompts for it, or pass it on the command line.')
param postgresAppPassword string

@allowed([
  'entra'
  'password'
])
@description('How the Function App logs in to PostgreSQL (DATABASE_AUTH). entra, Azure\'s recommendation: Microsoft Entra with its managed identity, as the database role named after the app (the deployment creates it; deployPrincipalName is then required); password: postgresAppLogin with the DatabaseURL password (kept either way, the fallback). Password logins stay enabled on the server for the administrator (migrations, restores).')
param databaseAuth string = 'entra'

@description('Display name of the CI/CD service principal (deployPrincipalId): with databaseAuth entra it is made the server\'s Microsoft Entra administrator, so the deployment can create the Function App\'s Entra database role. Empty: no Entra administrator is set here.')
param deployPrincipalName string = ''

// -- Secrets -----------------------------------------------------------------------------------

@secure()
@minLength(32)
@description('Key that signs access tokens (Key Vault secret JwtSecret). Never in a file.')
param jwtSecret string

@secure()
@minLength(32)
@description('Key that signs backup manifests (Key Vault secret BackupSigningKey). Never in a file. Keep it: backups signed with another key are refused by restores.')
param backupSigningKey string

@secure()
@description('Azure OpenAI key (Key Vault secret AzureOpenaiKey). Empty: no secret is created and the app uses its templates.')
param azureOpenAiApiKey string = ''

@secure()
@description('Web Push VAPID private key, raw P-256 base64url (Key Vault secret VapidPrivateKey). Empty: no secret is created and Web Push is skipped.')
param vapidPrivateKey string = ''

// -- App settings ------------------------------------------------------------------------------

@description('AZURE_OPENAI_ENDPOINT; empty means templates only.')
param azureOpenAiEndpoint string = ''

@description('AZURE_OPENAI_DEPLOYMENT.')
param azureOpenAiDeployment string = 'gpt-4o-mini'

@description('CORS_ALLOWED_ORIGINS: the frontend origins, comma-separated (never *).')
param corsAllowedOrigins string = ''

@description('Custom host names the API is reached by, added to ALLOWED_HOSTS after the platform host name.')
param customHostNames array = []

// -- Network -------------------------------------------------------------------------------------

@allowed([
  'private'
  'public'
])
@description('private: the Function App on a virtual network; PostgreSQL, Key Vault and Storage reached through private endpoints, their public endpoints closed but for operatorIpRanges (and the pipeline\'s runner, for one run). public: reachable from any Azure service (AllowAllAzureServices), chosen on purpose by the parameter file (development, staging). No default: every parameter file says which.')
param networkAccess string

@description('Public addresses (a plain address, not /32, which Storage refuses) or CIDR ranges of operators\' workstations let through the Key Vault and Storage firewalls under private networking. The database is opened per person and per session instead (docs/operations.md, "Reaching production").')
param operatorIpRanges array = []

// -- Operations --------------------------------------------------------------------------------

@description('Object id of the Microsoft Entra group of operators: reads the backups, reads the vault\'s secrets, may restore into a new server. Empty for none.')
param operatorsGroupId string = ''

@description('Email address the alerts go to. Empty: no email receiver.')
param alertEmail string = ''

@secure()
@description('Webhook URL the alerts are posted to (it usually embeds a token, hence secure: never in a file). Empty: none.')
param alertWebhookUrl string = ''

// -- Sizes ---------------------------------------------------------------------------------------
// One profile per environment, chosen by appEnv, so `azd up` and the parameter files agree.
// Every Flex Consumption instance holds up to dbPoolMax connections: maximumInstanceCount x
// dbPoolMax stays under the server's max user connections (B1ms 35, B2s 414, D2ds_v5 844).
var environmentSizes = {
  development: {
    postgresSkuName: 'Standard_B1ms'
    postgresSkuTier: 'Burstable'
    postgresStorageSizeGB: 32
    postgresHighAvailability: 'Disabled'
    maximumInstanceCount: 5
    instanceMemoryMB: 2048
    dbPoolMax: 5
    logRetentionDays: 30
    logArchiveDays: 90
    storageSkuName: 'Standard_LRS'
    keyVaultPurgeProtection: false
    alwaysReadyHttpInstances: 0
    dbConnectTimeout: 5
  }
  staging: {
    postgresSkuName: 'Standard_B2s'
    postgresSkuTier: 'Burstable'
    postgresStorageSizeGB: 32
    postgresHighAvailability: 'Disabled'
    maximumInstanceCount: 40
    instanceMemoryMB: 2048
    dbPoolMax: 5
    logRetentionDays: 30
    logArchiveDays: 365
    storageSkuName: 'Standard_LRS'
    keyVaultPurgeProtection: false
    alwaysReadyHttpInstances: 0
    dbConnectTimeout: 5
  }
  production: {
    postgresSkuName: 'Standard_D2ds_v5'
    postgresSkuTier: 'GeneralPurpose'
    postgresStorageSizeGB: 128
    postgresHighAvailability: 'ZoneRedundant'
    maximumInstanceCount: 60
    instanceMemoryMB: 2048
    dbPoolMax: 10
    logRetentionDays: 90
    // Diagnostic logs archived two years: as long as the audit log keeps its events.
    logArchiveDays: 730
    storageSkuName: 'Standard_ZRS'
    // Once on, purge protection cannot be turned off: the vault outlives a deleted environment.
    keyVaultPurgeProtection: true
    // One warm instance for the HTTP functions: the 500 ms target cannot hold through cold starts.
    alwaysReadyHttpInstances: 1
    // The guide's production connect_timeout.
    dbConnectTimeout: 10
  }
}
var size = environmentSizes[appEnv]
// Production is private whatever a parameter says: its database is never on the internet.
var privateNetwork = (networkAccess == 'private') || (appEnv == 'production')
var networkDefaultAction = privateNetwork ? 'Deny' : 'Allow'

// -- Names ---------------------------------------------------------------------------------------

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'neulbomcare'
  environment: appEnv
}
var functionAppName = '${abbrs.webSitesFunctions}neulbom-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var databaseName = 'neulbomcare'
// XGBOOST_MODEL_PATH is "<container>/<prefix>"; BACKUP_CONTAINER is a container.
var modelsContainerName = 'models'
var modelPath = '${modelsContainerName}/matching'
var backupsContainerName = 'backups'
// The monthly visit records (급여제공기록지); the app's VISIT_RECORD_CONTAINER default.
var visitRecordsContainerName = 'visit-records'
// BACKUP_QUEUE: backup jobs on demand (shared/jobs); the host moves poisoned messages to -poison.
var backupQueueName = 'backup-jobs'
// NOTIFICATION_QUEUE: nudges of the notification sender (shared/notifications/sender.py).
var notificationQueueName = 'notifications'

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module monitoring 'core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    retentionInDays: size.logRetentionDays
  }
}

module storage 'core/storage/storage-account.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    skuName: size.storageSkuName
    networkDefaultAction: networkDefaultAction
    allowedIpRanges: operatorIpRanges
    containers: [
      deploymentContainerName
      modelsContainerName
      backupsContainerName
      visitRecordsContainerName
    ]
    queues: [
      backupQueueName
      '${backupQueueName}-poison'
      notificationQueueName
      '${notificationQueueName}-poison'
    ]
  }
}

module keyVault 'core/security/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    purgeProtection: size.keyVaultPurgeProtection
    networkDefaultAction: networkDefaultAction
    allowedIpRanges: operatorIpRanges
  }
}

module postgres 'core/database/postgresql-flexible-server.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: '${abbrs.dBforPostgreSQLServers}${resourceToken}'
    location: location
    tags: tags
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    skuName: size.postgresSkuName
    skuTier: size.postgresSkuTier
    storageSizeGB: size.postgresStorageSizeGB
    highAvailability: size.postgresHighAvailability
    databaseName: databaseName
    allowAzureServices: !privateNetwork
    activeDirectoryAuth: databaseAuth == 'entra'
    entraAdminObjectId: deployPrincipalId
    entraAdminName: deployPrincipalName
  }
}

// Private networking: the app's subnet, and one private endpoint (with its DNS zone) per service.
module network 'core/network/virtual-network.bicep' = if (privateNetwork) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
  }
}

var privateEndpoints = [
  {
    name: 'postgres'
    service: 'postgres'
    groupId: 'postgresqlServer'
    dnsZoneName: 'privatelink.postgres.database.azure.com'
  }
  {
    name: 'vault'
    service: 'vault'
    groupId: 'vault'
    dnsZoneName: 'privatelink.vaultcore.azure.net'
  }
  {
    name: 'blob'
    service: 'storage'
    groupId: 'blob'
    dnsZoneName: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    name: 'queue'
    service: 'storage'
    groupId: 'queue'
    dnsZoneName: 'privatelink.queue.${environment().suffixes.storage}'
  }
  {
    name: 'table'
    service: 'storage'
    groupId: 'table'
    dnsZoneName: 'privatelink.table.${environment().suffixes.storage}'
  }
]

module endpoints 'core/network/private-endpoint.bicep' = [
  for endpoint in (privateNetwork ? privateEndpoints : []): {
    name: 'pe-${endpoint.name}'
    scope: rg
    params: {
      name: '${abbrs.networkPrivateEndpoints}${endpoint.name}-${resourceToken}'
      location: location
      tags: tags
      subnetId: network.outputs.privateEndpointSubnetId
      vnetId: network.outputs.id
      serviceId: (endpoint.service == 'postgres') ? postgres.outputs.id : ((endpoint.service == 'vault') ? keyVault.outputs.id : storage.outputs.id)
      groupId: endpoint.groupId
      dnsZoneName: endpoint.dnsZoneName
    }
  }
]

module secrets 'app/secrets.bicep' = {
  name: 'secrets'
  scope: rg
  params: {
    keyVaultName: keyVault.outputs.name
    postgresHost: postgres.outputs.fullyQualifiedDomainName
    postgresAdminLogin: postgresAdminLogin
    postgresAdminPassword: postgresAdminPassword
    postgresAppLogin: postgresAppLogin
    postgresAppPassword: postgresAppPassword
    databaseName: databaseName
    jwtSecret: jwtSecret
    backupSigningKey: backupSigningKey
    azureOpenAiApiKey: azureOpenAiApiKey
    vapidPrivateKey: vapidPrivateKey
  }
}

module plan 'core/host/flex-consumption-plan.bicep' = {
  name: 'plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    planId: plan.outputs.id
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    instanceMemoryMB: size.instanceMemoryMB
    maximumInstanceCount: size.maximumInstanceCount
    alwaysReadyHttpInstances: size.alwaysReadyHttpInstances
    subnetId: privateNetwork ? network.outputs.appSubnetId : ''
  }
}

// Email for notifications: Azure Communication Services, the app's identity allowed to send.
module communication 'core/communication/email.bicep' = {
  name: 'communication'
  scope: rg
  params: {
    namePrefix: 'neulbom-${resourceToken}'
    tags: tags
    appPrincipalId: api.outputs.principalId
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appPrincipalId: api.outputs.principalId
    userPrincipalId: principalId
    deployPrincipalId: deployPrincipalId
    operatorsGroupId: operatorsGroupId
    backupContainerName: backupsContainerName
  }
}

// Watching from outside: the availability test of /health, the alert rules, the action group.
module alerts 'core/monitor/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: environmentName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appUrl: 'https://${api.outputs.defaultHostName}'
    alertEmail: alertEmail
    alertWebhookUrl: alertWebhookUrl
  }
}

// Diagnostic logs archived past Log Analytics' retention.
module logArchive 'core/monitor/log-archive.bicep' = {
  name: 'log-archive'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}log${resourceToken}'
    location: location
    tags: tags
    archiveRetentionDays: size.logArchiveDays
    functionAppName: api.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    postgresServerName: postgres.outputs.name
  }
}

// App settings come last: their Key Vault references resolve only once the identity may read
// the vault, and the app refuses to start on an unresolved reference (shared/config.py).
module appSettings 'app/appsettings.bicep' = {
  name: 'appsettings'
  scope: rg
  dependsOn: [
    rbac
  ]
  params: {
    functionAppName: api.outputs.name
    appEnv: appEnv
    allowedHosts: concat([api.outputs.defaultHostName], customHostNames)
    corsAllowedOrigins: corsAllowedOrigins
    keyVaultUri: keyVault.outputs.uri
    databaseUrlSecretUri: secrets.outputs.databaseUrlSecretUri
    jwtSecretUri: secrets.outputs.jwtSecretUri
    backupSigningKeySecretUri: secrets.outputs.backupSigningKeySecretUri
    azureOpenAiKeySecretUri: secrets.outputs.azureOpenAiKeySecretUri
    azureOpenAiEndpoint: azureOpenAiEndpoint
    azureOpenAiDeployment: azureOpenAiDeployment
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    modelPath: modelPath
    backupContainer: backupsContainerName
    backupQueue: backupQueueName
    notificationQueue: notificationQueueName
    acsEmailEndpoint: communication.outputs.endpoint
    acsEmailSender: communication.outputs.senderAddress
    dbPoolMax: size.dbPoolMax
    dbConnectTimeout: size.dbConnectTimeout
    databaseAuth: databaseAuth
    // The system-assigned identity's name is the app's: its database role is named so.
    databaseEntraUser: functionAppName
  }
}

// azd stores these in the environment (.azure/<env>/.env); the workflows read the same names.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostName}'
output KEY_VAULT_URL string = keyVault.outputs.uri
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output POSTGRES_SERVER_NAME string = postgres.outputs.name
output POSTGRES_HOST string = postgres.outputs.fullyQualifiedDomainName
// The server's Microsoft Entra administrator (the pipeline): the deploy logs in as it to create
// the app identity's role (DATABASE_AUTH=entra).
output POSTGRES_ENTRA_ADMIN string = deployPrincipalName
output APP_ENV string = appEnv
output STORAGE_ACCOUNT_URL string = storage.outputs.blobEndpoint
output NETWORK_ACCESS string = networkAccess
