# language: pt
@instance @paid @gpu
Funcionalidade: Ciclo de vida de uma instância
  Como SRE ensaiando uma versão, alugo a GPU permitida mais barata, provo
  que ela funciona de ponta a ponta e a devolvo, sabendo quanto tempo cada
  fase levou e quanto custou.

  Contexto:
    Dado que a API da Dumont Cloud está saudável
    E que estou autenticado

  Cenário: Alugar a GPU mais barata, instalar um modelo, fazer snapshot, pausar, retomar e apagar
    Dado a oferta mais barata entre as GPUs permitidas
    E que o saldo cobre o custo máximo da jornada de instância
    Quando eu crio uma instância com essa oferta
    Então a instância fica em execução dentro do tempo limite
    E consigo me conectar a ela por SSH
    Quando eu instalo o modelo "qwen3-0.6b"
    Então os arquivos do modelo conferem com seus checksums
    E a GPU funciona e o modelo responde
    Quando eu tiro um snapshot da instância
    Então o snapshot aparece na lista com o rótulo da execução
    Quando eu pauso a instância
    Então a instância fica parada
    Quando eu retomo a instância
    Então a instância volta a ficar em execução dentro do tempo limite
    E consigo me conectar a ela por SSH
    E os arquivos do modelo conferem com seus checksums
    Quando eu apago a instância
    Então a instância deixa de existir
    E cada fase foi cronometrada e custeada
