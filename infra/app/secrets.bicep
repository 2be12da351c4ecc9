// The app's secrets in Key Vault, under the names shared/secrets.py asks for. Values arrive as
// secure parameters and are never output; only the (versionless) secret URIs are, for the
// Key Vault references of the app settings. One more, DatabaseOwnerURL, is for the pipeline and
// operators only.
param keyVaultName string

param postgresHost string
param postgresAdminLogin string

@secure()
param postgresAdminPassword string

param postgresAppLogin string

@secure()
param postgresAppPassword string

param databaseName string

@secure()
param jwtSecret string

@secure()
param backupSigningKey string

@secure()
@description('Empty: no AzureOpenaiKey secret (the app then writes care plans from templates).')
param azureOpenAiApiKey string = ''

@secure()
@description('Empty: no VapidPrivateKey secret (Web Push is then skipped).')
param vapidPrivateKey string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// The URL of the app: its own login (member of neulbomcare_app), never the server admin, so it
// cannot TRUNCATE or ALTER the audit log (migration 0006).
resource databaseUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'DatabaseURL'
  properties: {
    contentType: 'PostgreSQL URL'
    value: 'postgresql://${uriComponent(postgresAppLogin)}:${uriComponent(postgresAppPassword)}@${postgresHost}:5432/${databaseName}?sslmode=require'
  }
}

// The URL of the owner (the server admin): read by the deployment pipeline for migrations and
// `manage.py db-roles`, and by operators for restores. The app never reads it.
resource databaseOwnerUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'DatabaseOwnerURL'
  properties: {
    contentType: 'PostgreSQL URL (owner)'
    value: 'postgresql://${uriComponent(postgresAdminLogin)}:${uriComponent(postgresAdminPassword)}@${postgresHost}:5432/${databaseName}?sslmode=require'
  }
}

resource jwt 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'JwtSecret'
  properties: {
    contentType: 'HS256 signing key'
    value: jwtSecret
  }
}

resource backupKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'BackupSigningKey'
  properties: {
    contentType: 'HMAC-SHA256 key of backup manifests'
    value: backupSigningKey
  }
}

resource vapidKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(vapidPrivateKey)) {
  parent: vault
  name: 'VapidPrivateKey'
  properties: {
    contentType: 'Web Push VAPID private key (P-256, base64url)'
    value: vapidPrivateKey
  }
}

resource openAiKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(azureOpenAiApiKey)) {
  parent: vault
  name: 'AzureOpenaiKey'
  properties: {
    contentType: 'Azure OpenAI API key'
    value: azureOpenAiApiKey
  }
}

output databaseUrlSecretUri string = databaseUrl.properties.secretUri
output jwtSecretUri string = jwt.properties.secretUri
output backupSigningKeySecretUri string = backupKey.properties.secretUri
output azureOpenAiKeySecretUri string = empty(azureOpenAiApiKey) ? '' : openAiKey.properties.secretUri
