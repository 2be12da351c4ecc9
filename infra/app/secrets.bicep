// The app's secrets in Key Vault, under the names shared/secrets.py asks for. Values arrive as
// secure parameters and are never output; only the (versionless) secret URIs are, for the
// Key Vault references of the app settings.
param keyVaultName string

param postgresHost string
param postgresAdminLogin string

@secure()
param postgresAdminPassword string

param databaseName string

@secure()
param jwtSecret string

@secure()
param backupSigningKey string

@secure()
@description('Empty: no AzureOpenaiKey secret (the app then writes care plans from templates).')
param azureOpenAiApiKey string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource databaseUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'DatabaseURL'
  properties: {
    contentType: 'PostgreSQL URL'
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
