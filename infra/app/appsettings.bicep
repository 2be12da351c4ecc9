// The Function App's settings, named as shared/config.py reads them (README, "Configuration").
// Secrets are Key Vault references resolved by the platform with the app's identity; the app
// also reads the vault itself through KEY_VAULT_URL. Blob Storage and the Functions host storage
// use the identity too, so no connection string or key appears anywhere.
//
// Flex Consumption sets the runtime in functionAppConfig: FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE must not be app settings there.
param functionAppName string

@allowed([
  'development'
  'staging'
  'production'
])
param appEnv string

@description('Host names the app serves (ALLOWED_HOSTS); the first is the platform\'s own.')
param allowedHosts array
param corsAllowedOrigins string = ''
param keyVaultUri string
param databaseUrlSecretUri string
param jwtSecretUri string
param backupSigningKeySecretUri string

@description('Empty when no Azure OpenAI key was given.')
param azureOpenAiKeySecretUri string = ''
param azureOpenAiEndpoint string = ''
param azureOpenAiDeployment string = 'gpt-4o-mini'
param storageAccountName string
param storageBlobEndpoint string
param storageQueueEndpoint string
param applicationInsightsName string
param modelPath string = 'models/matching'
param backupContainer string = 'backups'
param backupQueue string = 'backup-jobs'
param notificationQueue string = 'notifications'
@description('ACS_EMAIL_ENDPOINT and ACS_EMAIL_SENDER: email for notifications (managed identity).')
param acsEmailEndpoint string = ''
param acsEmailSender string = ''
param dbPoolMax int = 5

@allowed([
  'password'
  'entra'
])
@description('DATABASE_AUTH: entra logs in with the app\'s managed identity (shared/db_credentials.py).')
param databaseAuth string = 'password'

@description('DATABASE_ENTRA_USER: the database role of the app\'s managed identity (the app\'s name).')
param databaseEntraUser string = ''

@description('Seconds to connect to PostgreSQL (production: 10, the guide\'s connect_timeout).')
param dbConnectTimeout int = 5

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var baseSettings = {
  // Functions host: identity-based host storage, telemetry.
  AzureWebJobsStorage__accountName: storageAccountName
  // Where the queue triggers (functions/queues.py) poll, with the same identity.
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString

  // The app (shared/config.py).
  APP_ENV: appEnv
  KEY_VAULT_URL: keyVaultUri
  DATABASE_URL: '@Microsoft.KeyVault(SecretUri=${databaseUrlSecretUri})'
  JWT_SECRET: '@Microsoft.KeyVault(SecretUri=${jwtSecretUri})'
  BACKUP_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${backupSigningKeySecretUri})'
  DB_POOL_MAX: string(dbPoolMax)
  DB_CONNECT_TIMEOUT: string(dbConnectTimeout)
  STORAGE_ACCOUNT_URL: storageBlobEndpoint
  XGBOOST_MODEL_PATH: modelPath
  BACKUP_CONTAINER: backupContainer
  // The queue triggers read %BACKUP_QUEUE% (and %BACKUP_QUEUE%-poison): it must exist to index.
  BACKUP_QUEUE: backupQueue
  // The notification sender's trigger reads %NOTIFICATION_QUEUE%.
  NOTIFICATION_QUEUE: notificationQueue
  ACS_EMAIL_ENDPOINT: acsEmailEndpoint
  ACS_EMAIL_SENDER: acsEmailSender
  STORAGE_QUEUE_URL: storageQueueEndpoint
  // Timer schedules read %BACKUP_SCHEDULE%: the setting must exist for the host to index them.
  BACKUP_SCHEDULE: '0 0 18 * * *'
  BACKUP_RETENTION_DAYS: '35'
  ALLOWED_HOSTS: join(allowedHosts, ',')
  CORS_ALLOWED_ORIGINS: corsAllowedOrigins
  AZURE_OPENAI_ENDPOINT: azureOpenAiEndpoint
  AZURE_OPENAI_DEPLOYMENT: azureOpenAiDeployment
}

// Microsoft Entra logins: the identity's token is the password, DatabaseURL gives host and database.
var databaseAuthSettings = (databaseAuth == 'entra') ? {
  DATABASE_AUTH: 'entra'
  DATABASE_ENTRA_USER: databaseEntraUser
} : {
  DATABASE_AUTH: 'password'
}

// Only reference a secret that exists: an unresolved reference stops the app at start-up.
var openAiKeySetting = empty(azureOpenAiKeySecretUri) ? {} : {
  AZURE_OPENAI_API_KEY: '@Microsoft.KeyVault(SecretUri=${azureOpenAiKeySecretUri})'
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(baseSettings, openAiKeySetting, databaseAuthSettings)
}
